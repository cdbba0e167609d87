from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from advisory.history import signing


class Command(BaseCommand):
    help = (
        "The log's signing key (LOG_SIGNING_KEY_FILE). `create` writes a new Ed25519 "
        "private key there, readable by its owner only, and never overwrites one; "
        "`show` prints the public key and its id, to publish outside the firm."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["create", "show"])
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="With create: do nothing when the key file exists (for `make run`).",
        )

    def handle(self, *args, action: str, if_missing: bool = False, **options) -> None:
        path = signing.key_path()
        if action == "create":
            if path.exists():
                if if_missing:
                    return
                raise CommandError(
                    f"There is a key at {path} already; a new key would not sign as the "
                    "firm's old heads do. To rotate, see docs/deploy.md."
                )
            key = signing.create_key(path)
            self.stdout.write(f"Created the log's signing key at {path} (mode 600).")
        else:
            try:
                key = signing.signing_key()
            except signing.SigningKeyError as error:
                raise CommandError(str(error)) from None
        public = key.public_key()
        self.stdout.write(f"Key id: {signing.key_id(public)}")
        self.stdout.write(signing.public_pem(public).rstrip())
