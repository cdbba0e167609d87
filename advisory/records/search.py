"""Find anything: clients, engagements and disagreements within a user's scope.

On PostgreSQL, full-text search: one weighted `SearchVector` per model (title
A, the client's request and our recommendation B, the outcome C; comments C),
each matched by a GIN expression index of exactly the same expression
(migration 0016), ranked with `SearchRank` and highlighted with
`SearchHeadline`. The text search configuration is 'english': the records are
English prose, so "fees" finds "fee" and "counting" finds "count", and stop
words ("the", "of") neither match nor cost index reads. Names are stemmed the
same way on both sides, so they still match.

Elsewhere (SQLite in development and tests) the same query is answered by
plain matching: every word must appear somewhere (case-insensitive substring),
ranked by where it appears, with the same weights, and highlighted here.

What a query may say (`parse`): words, each also matching as the start of a
longer word ("harb" finds Harbour: a search box is typed into; on PostgreSQL
only when the whole words do not already fill the window, see
`_Postgres._window`); `or` between
two words; `-word` to leave records with that word out. Quotes are read as
word boundaries, not phrases: a phrase makes PostgreSQL re-read every
candidate row's text (a recheck the index cannot answer), hundreds of
milliseconds for common words at a million disagreements. A query of only
`-words` is refused: it would read every row.

Speed at scale (docs/performance.md): the index finds the matching rows; of
those, at most WINDOW of the most recent are ranked (ranking recomputes each
row's vector, about 25 µs a row, so ranking every match of a common word
would cost seconds). A word rarer than that in the user's scope is ranked
exactly; for a common one, the most relevant of its most recent matches come
first. Results come PER_PAGE at a time per kind.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from dataclasses import dataclass, field
from functools import reduce
from operator import and_, or_

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, SearchVector
from django.db import connection, models
from django.db.models import Case, F, Func, Q, Value, When
from django.db.models.functions import NullIf
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from accounts.scoping import role_of
from advisory.models import Client, Comment, Disagreement, Engagement

MAX_QUERY = 200  # characters
MAX_TERMS = 12  # words in a query; more are ignored
PER_PAGE = 20  # results of one kind on a page
WINDOW = 200  # the most recent matches of one kind that are ranked
RECENT_DAYS = 90  # looked through first for those matches (Fields.dated)
IDS_UP_TO = 5000  # a scope of up to this many clients is read as a list of ids
CONFIG = "english"

# Highlighted words come back between these markers, never as HTML: the page
# escapes the text and then turns the markers into <mark> (views/search.py).
START, STOP = "\x02", "\x03"
# ts_headline's options: MaxWords/MinWords per fragment, up to two fragments.
HEADLINE = {
    "start_sel": START,
    "stop_sel": STOP,
    "max_words": 24,
    "min_words": 12,
    "max_fragments": 2,
    "fragment_delimiter": " … ",
}
SNIPPET = 200  # characters of a snippet on SQLite

KINDS = ("client", "engagement", "disagreement")

EMPTY = (
    "Type a word or two to search for: a client, an engagement or what a disagreement was about."
)
TOO_LONG = (
    f"That search is too long: use at most {MAX_QUERY} characters "
    "(a few distinctive words work best)."
)
ONLY_EXCLUDED = "Say what to look for, not only what to leave out (a word without a minus sign)."


# --- The query -------------------------------------------------------------------


@dataclass(frozen=True)
class Terms:
    """A parsed query: groups of words, every group must match (a group
    matches when any of its words does), and words that must not appear."""

    groups: tuple[tuple[str, ...], ...]
    excluded: tuple[str, ...] = ()

    @property
    def words(self) -> list[str]:
        return [word for group in self.groups for word in group]

    def __bool__(self) -> bool:
        return bool(self.groups)


WORD = re.compile(r"[^\W_]+")


def normalize(text: str) -> str:
    """The query as typed, without control characters (PostgreSQL refuses NUL)
    and with runs of white space made one."""
    text = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)
    return " ".join(text.split())


def problem(query: str) -> str | None:
    """Why `query` (as typed) cannot be searched for, or None."""
    query = normalize(query)
    if not query:
        return EMPTY
    if len(query) > MAX_QUERY:
        return TOO_LONG
    terms = parse(query)
    if not terms and terms.excluded:
        return ONLY_EXCLUDED
    if not terms:
        return EMPTY
    return None


def parse(query: str) -> Terms:
    """Words, `or` between words, `-word`; anything but letters and digits
    separates words (so the result is safe to hand to to_tsquery)."""
    groups: list[list[str]] = []
    excluded: list[str] = []
    joining = False
    count = 0
    for token in normalize(query).replace('"', " ").split(" "):
        if count >= MAX_TERMS:
            break
        if token.lower() == "or":
            joining = bool(groups)
            continue
        negated = token.startswith("-")
        words = [w.lower() for w in WORD.findall(token)]
        if not words:
            continue
        count += len(words)
        if negated:
            excluded.extend(words)
            joining = False
            continue
        first, *rest = words
        if joining:
            groups[-1].append(first)
        else:
            groups.append([first])
        groups.extend([w] for w in rest)  # "follow-up": both words
        joining = False
    return Terms(tuple(tuple(g) for g in groups), tuple(excluded))


def tsquery(terms: Terms, *, prefixes: bool = True) -> SearchQuery:
    """The query for to_tsquery: words as prefixes (three letters or more;
    without `prefixes`, whole words only), groups AND-ed, words within a
    group OR-ed, excluded words negated."""

    def lexeme(word: str) -> str:
        return f"{word}:*" if prefixes and len(word) >= 3 else word

    clauses = ["(" + " | ".join(lexeme(w) for w in group) + ")" for group in terms.groups]
    clauses += [f"!{w}" for w in terms.excluded]
    return SearchQuery(" & ".join(clauses), search_type="raw", config=CONFIG)


# --- What is searched ------------------------------------------------------------


@dataclass(frozen=True)
class Fields:
    """One model's searchable fields by weight (A most), and what is shown."""

    weights: dict[str, tuple[str, ...]]
    title: str  # shown highlighted, in full
    snippet: tuple[str, ...]  # shown as highlighted fragments
    recency: tuple[str, ...]  # which matches are the most recent
    dated: str | None = None  # the date field recency sorts by first, if any

    def vector(self) -> SearchVector:
        vectors = [
            SearchVector(*names, weight=weight, config=CONFIG)
            for weight, names in self.weights.items()
        ]
        return reduce(lambda a, b: a + b, vectors)

    @property
    def names(self) -> list[str]:
        return [name for names in self.weights.values() for name in names]


CLIENT = Fields(
    weights={"A": ("name",), "B": ("sector", "contact_name"), "C": ("notes",)},
    title="name",
    snippet=("sector", "contact_name", "notes"),
    recency=("-pk",),
)
ENGAGEMENT = Fields(
    weights={"A": ("title",), "B": ("service_line",), "C": ("description",)},
    title="title",
    snippet=("service_line", "description"),
    recency=("-pk",),
)
DISAGREEMENT = Fields(
    weights={"A": ("title",), "B": ("client_request", "recommendation"), "C": ("outcome",)},
    title="title",
    snippet=("client_request", "recommendation", "outcome"),
    recency=("-occurred_on", "-pk"),
    dated="occurred_on",
)
COMMENT = Fields(weights={"C": ("body",)}, title="body", snippet=("body",), recency=("-pk",))

# What the migration indexes: (model, fields, index name). The index must be
# the very expression the search filters on, or PostgreSQL will not use it.
INDEXES = [
    (Client, CLIENT, "client_search_idx"),
    (Engagement, ENGAGEMENT, "engagement_search_idx"),
    (Disagreement, DISAGREEMENT, "disagreement_search_idx"),
    (Comment, COMMENT, "comment_search_idx"),
]

# One page's records, by the ids the scoped searches found.
LOAD_DISAGREEMENTS = Disagreement.objects.select_related("client", "engagement")
LOAD_COMMENTS = Comment.objects.select_related("author")

WEIGHTS = {"A": 1.0, "B": 0.4, "C": 0.2}  # PostgreSQL's own defaults, for plain matching


# --- Results ---------------------------------------------------------------------


@dataclass
class Hit:
    """One record found; `title` and `snippet` carry START/STOP markers."""

    record: models.Model
    title: str
    snippet: str
    rank: float
    comment: Comment | None = None  # the comment that matched, when one did


@dataclass
class Results:
    query: str
    hits: dict[str, list[Hit]] = field(default_factory=dict)
    more: dict[str, bool] = field(default_factory=dict)  # another page of that kind

    @property
    def total(self) -> int:
        return sum(len(hits) for hits in self.hits.values())


def search(*, user: User, query: str, kinds=KINDS, page: int = 1) -> Results:
    """Search `user`'s scope. Call only with a query `problem()` accepts."""
    terms = parse(query)
    results = Results(query=normalize(query))
    offset = (max(page, 1) - 1) * PER_PAGE
    searcher = _Postgres(terms) if connection.vendor == "postgresql" else _Plain(terms)
    scope = Scope.of(user)
    for kind in kinds:
        hits = getattr(searcher, kind)(scope, offset)
        results.hits[kind] = hits[:PER_PAGE]
        results.more[kind] = len(hits) > PER_PAGE
    return results


@dataclass(frozen=True)
class Scope:
    """The user's clients, read once for the whole search.

    As a list of ids when there are at most IDS_UP_TO (everyone but an admin,
    in practice): PostgreSQL then ANDs the client index's bitmap with the
    search index's and reads only the matches in scope, instead of every
    match in the firm filtered afterwards (a tenth of the rows for a manager
    at a million disagreements: docs/performance.md, "Search"). An admin's
    scope is everything, so nothing to filter by.
    """

    clients: models.QuerySet
    ids: list[int] | None

    @classmethod
    def of(cls, user: User) -> Scope:
        visible = Client.objects.visible_to(user)
        if role_of(user) == Role.ADMIN:
            return cls(visible, None)
        ids = list(visible.order_by().values_list("pk", flat=True)[: IDS_UP_TO + 1])
        return cls(visible, None) if len(ids) > IDS_UP_TO else cls(visible, ids)

    def _by_client(self, queryset: models.QuerySet, lookup: str) -> models.QuerySet:
        if self.ids is None:
            return queryset.filter(**{f"{lookup}__in": self.clients})
        return queryset.filter(**{f"{lookup}_id__in": self.ids})

    def records(self, kind: str) -> models.QuerySet:
        if kind == "client":
            return self.clients if self.ids is None else Client.objects.filter(pk__in=self.ids)
        if kind == "engagement":
            return self._by_client(Engagement.objects.select_related("client"), "client")
        return self._by_client(
            Disagreement.objects.select_related("client", "engagement"), "client"
        )

    def comments(self) -> models.QuerySet:
        return self._by_client(Comment.objects.all(), "disagreement__client")


class _Postgres:
    def __init__(self, terms: Terms) -> None:
        self.query = tsquery(terms)
        whole = tsquery(terms, prefixes=False)
        # Whole words first, where it matters (see _window); the same query
        # twice would only cost a second look.
        self.queries = [whole, self.query] if whole != self.query else [self.query]

    def _window(
        self, queryset: models.QuerySet, fields: Fields
    ) -> tuple[models.QuerySet | list[int], SearchQuery]:
        """The most recent WINDOW matches (their ids, or a subquery of them),
        and the query that found them.

        Sorted by `occurred_on + 0` rather than `occurred_on`: given an indexed
        sort and a LIMIT, PostgreSQL may walk that index and compute every
        row's vector until WINDOW match (seconds for a rare word, all of the
        log for a word that is not there) instead of asking the GIN index.

        A common word matches tens of thousands of disagreements, and every
        match's row would be read to find the newest. So the last RECENT_DAYS
        are looked through first, from an index that holds the date with the
        vector (migration 0018), which returns only the recent matches: when
        they are WINDOW, they are the newest of all, since every other match is
        older. And the words typed are looked for as whole words before they
        are looked for as the starts of longer ones: a prefix makes the index
        merge every word that starts so ("term:*": term, terms, terminate, …),
        ten times the work of the word itself (100 ms against 10 ms for
        "payment terms" at a million disagreements); when the whole words
        fill the window, they are what was meant. So, until one fills it:
        whole words in the last RECENT_DAYS, then in all of the log, then
        prefixes in the last RECENT_DAYS; and otherwise (a rare word, or one
        still being typed) prefixes in all of the log, which the plain index
        answers quickly for a rare word. docs/performance.md, "Issue 18's
        pages at full scale".
        """

        def newest(query: SearchQuery) -> models.QuerySet:
            matches = queryset.annotate(search=fields.vector()).filter(search=query)
            return matches.order_by(*[_unindexed(key) for key in fields.recency])

        if fields.dated:
            since = timezone.localdate() - datetime.timedelta(days=RECENT_DAYS)
            whole, *prefixes = self.queries
            tries = [
                newest(whole).filter(**{f"{fields.dated}__gte": since}),
                newest(whole),
                *[newest(query).filter(**{f"{fields.dated}__gte": since}) for query in prefixes],
            ]
            for query, found in zip([whole, whole, *prefixes], tries, strict=True):
                ids = list(found.values_list("pk", flat=True)[:WINDOW])
                if len(ids) == WINDOW:
                    return ids, query
        return newest(self.query).values("pk")[:WINDOW], self.query

    def _ranked(
        self, queryset: models.QuerySet, fields: Fields
    ) -> tuple[models.QuerySet, SearchQuery]:
        """The window's rows, best first, and the query that found them (which
        ranks and highlights them). The window is already in the user's
        scope: the scope's subqueries are not run a second time for them."""
        window, query = self._window(queryset.order_by(), fields)
        rank = SearchRank(fields.vector(), query)
        in_window = queryset.model._default_manager.filter(pk__in=window)
        in_window.query.select_related = queryset.query.select_related
        return in_window.annotate(rank=rank).order_by("-rank", *fields.recency), query

    @staticmethod
    def _headlines(
        queryset: models.QuerySet, fields: Fields, query: SearchQuery
    ) -> models.QuerySet:
        # concat_ws skips NULLs, so empty fields leave no stray separators.
        snippet = Func(
            Value(" \N{EM DASH} "),
            *[NullIf(_unmarked(name), Value("")) for name in fields.snippet],
            function="CONCAT_WS",
            output_field=models.TextField(),
        )
        return queryset.annotate(
            title_marked=SearchHeadline(
                _unmarked(fields.title),
                query,
                config=CONFIG,
                start_sel=START,
                stop_sel=STOP,
                highlight_all=True,
            ),
            snippet_marked=SearchHeadline(snippet, query, config=CONFIG, **HEADLINE),
        )

    def _simple(self, kind: str, fields: Fields, scope: Scope, offset: int) -> list[Hit]:
        ranked, query = self._ranked(scope.records(kind), fields)
        ranked = self._headlines(ranked, fields, query)
        return [
            Hit(record=r, title=r.title_marked, snippet=r.snippet_marked, rank=r.rank)
            for r in ranked[offset : offset + PER_PAGE + 1]
        ]

    def client(self, scope: Scope, offset: int) -> list[Hit]:
        return self._simple("client", CLIENT, scope, offset)

    def engagement(self, scope: Scope, offset: int) -> list[Hit]:
        return self._simple("engagement", ENGAGEMENT, scope, offset)

    def disagreement(self, scope: Scope, offset: int) -> list[Hit]:
        """Disagreements whose own text matches, and those with a matching
        comment, ranked together (each by the better of the two)."""
        own, own_query = self._ranked(scope.records("disagreement"), DISAGREEMENT)
        comments, comment_query = self._ranked(scope.comments(), COMMENT)
        # The ids come from the two queries above, both within the scope.
        return _merge(
            own.values_list("pk", "rank"),
            comments.values_list("pk", "disagreement_id", "rank"),
            offset,
            load=lambda ids: self._headlines(LOAD_DISAGREEMENTS, DISAGREEMENT, own_query).filter(
                pk__in=ids
            ),
            load_comments=lambda ids: self._headlines(LOAD_COMMENTS, COMMENT, comment_query).filter(
                pk__in=ids
            ),
        )


def _unmarked(name: str) -> Func:
    """The field without the marker characters: text typed into a record
    cannot pass for the search's own highlighting."""
    return Func(
        F(name),
        Value(START + STOP),
        Value(""),
        function="TRANSLATE",
        output_field=models.TextField(),
    )


def _unindexed(key: str) -> models.OrderBy:
    """`key` ("-occurred_on") as a sort no index can answer (the field plus 0)."""
    name = key.lstrip("-")
    value = F(name) + Value(0)
    output = models.DateField() if name == "occurred_on" else models.IntegerField()
    wrapped = models.ExpressionWrapper(value, output_field=output)
    return wrapped.desc() if key.startswith("-") else wrapped.asc()


def _merge(own, comments, offset: int, *, load, load_comments) -> list[Hit]:
    """One page of disagreements from the two ranked lists (own text, comments)."""
    best: dict[int, tuple[float, int | None]] = {pk: (rank, None) for pk, rank in own}
    for comment_pk, pk, rank in comments:
        if rank > best.get(pk, (-1.0, None))[0]:
            best[pk] = (rank, comment_pk)
    # Best first; among equals the later record (a higher id) first.
    order = sorted(best, key=lambda pk: (-best[pk][0], -pk))
    page = order[offset : offset + PER_PAGE + 1]
    records = {r.pk: r for r in load(page)}
    comment_ids = [best[pk][1] for pk in page if best[pk][1] is not None]
    found = {c.pk: c for c in load_comments(comment_ids)} if comment_ids else {}
    hits = []
    for pk in page:
        record = records.get(pk)
        if record is None:  # gone meanwhile
            continue
        rank, comment_pk = best[pk]
        comment = found.get(comment_pk)
        hits.append(
            Hit(
                record=record,
                title=record.title_marked,
                snippet=comment.snippet_marked if comment else record.snippet_marked,
                rank=rank,
                comment=comment,
            )
        )
    return hits


class _Plain:
    """Plain matching for databases without full-text search (SQLite)."""

    def __init__(self, terms: Terms) -> None:
        self.terms = terms

    def _matching(self, queryset: models.QuerySet, fields: Fields) -> models.QuerySet:
        def anywhere(word: str) -> Q:
            return reduce(or_, [Q(**{f"{name}__icontains": word}) for name in fields.names])

        found = reduce(
            and_, [reduce(or_, [anywhere(w) for w in group]) for group in self.terms.groups]
        )
        for word in self.terms.excluded:
            found &= ~anywhere(word)
        return queryset.filter(found)

    def _rank(self, fields: Fields) -> models.Expression:
        parts = [
            Case(
                When(**{f"{name}__icontains": word}, then=Value(WEIGHTS[weight])),
                default=Value(0.0),
                output_field=models.FloatField(),
            )
            for word in self.terms.words
            for weight, names in fields.weights.items()
            for name in names
        ]
        return reduce(lambda a, b: a + b, parts)

    def _ranked(self, queryset: models.QuerySet, fields: Fields) -> models.QuerySet:
        return (
            self._matching(queryset, fields)
            .annotate(rank=self._rank(fields))
            .order_by("-rank", *fields.recency)
        )

    def _hit(self, record: models.Model, fields: Fields, comment: Comment | None = None) -> Hit:
        shown = comment or record
        snippet_fields = COMMENT.snippet if comment else fields.snippet
        text = " \N{EM DASH} ".join(
            getattr(shown, name) for name in snippet_fields if getattr(shown, name)
        )
        return Hit(
            record=record,
            title=mark(getattr(record, fields.title), self.terms.words),
            snippet=mark(excerpt(text, self.terms.words), self.terms.words),
            rank=getattr(record, "rank", 0.0),
            comment=comment,
        )

    def _simple(self, kind: str, fields: Fields, scope: Scope, offset: int) -> list[Hit]:
        ranked = self._ranked(scope.records(kind), fields)
        return [self._hit(r, fields) for r in ranked[offset : offset + PER_PAGE + 1]]

    def client(self, scope: Scope, offset: int) -> list[Hit]:
        return self._simple("client", CLIENT, scope, offset)

    def engagement(self, scope: Scope, offset: int) -> list[Hit]:
        return self._simple("engagement", ENGAGEMENT, scope, offset)

    def disagreement(self, scope: Scope, offset: int) -> list[Hit]:
        ranked = self._ranked(scope.records("disagreement"), DISAGREEMENT)
        own = ranked.values_list("pk", "rank")[:WINDOW]
        comments = self._ranked(scope.comments(), COMMENT)
        return _merge(
            own,
            comments.values_list("pk", "disagreement_id", "rank")[:WINDOW],
            offset,
            load=lambda ids: _Marked(LOAD_DISAGREEMENTS.filter(pk__in=ids), self, DISAGREEMENT),
            load_comments=lambda ids: _Marked(LOAD_COMMENTS.filter(pk__in=ids), self, COMMENT),
        )


class _Marked:
    """Records with `title_marked` and `snippet_marked`, as _Postgres's headlines give."""

    def __init__(self, queryset: models.QuerySet, plain: _Plain, fields: Fields) -> None:
        self.queryset, self.plain, self.fields = queryset, plain, fields

    def __iter__(self):
        for record in self.queryset:
            hit = self.plain._hit(record, self.fields)
            record.title_marked, record.snippet_marked = hit.title, hit.snippet
            yield record


def excerpt(text: str, words: list[str]) -> str:
    """About SNIPPET characters of `text` around its first matching word."""
    lowered = text.lower()
    starts = [i for i in (lowered.find(w) for w in words) if i >= 0]
    if len(text) <= SNIPPET:
        return text
    start = max(0, min(starts, default=0) - SNIPPET // 3)
    start = text.rfind(" ", 0, start) + 1 if start else 0
    end = start + SNIPPET
    return ("… " if start else "") + text[start:end].rstrip() + (" …" if end < len(text) else "")


def mark(text: str, words: list[str]) -> str:
    """`text` with each word that starts with one of `words` between START and STOP."""
    text = (text or "").translate({ord(START): None, ord(STOP): None})
    if not text or not words:
        return text
    pattern = re.compile(
        r"\b(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")\w*",
        re.IGNORECASE,
    )
    return pattern.sub(lambda m: f"{START}{m.group(0)}{STOP}", text)
