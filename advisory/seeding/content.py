"""The demo's cast and script: clients, engagements and the disagreements they
have, written as data so `advisory.seeding.demo` can replay them deterministically."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from advisory.models import Client, Disagreement

ORG = Client.Kind.ORGANIZATION
IND = Client.Kind.INDIVIDUAL


class Trajectory(enum.StrEnum):
    HEALTHY = "healthy"  # few, low, collaborative disagreements; advice accepted
    IMPROVING = "improving"  # tense or hostile early on, collaborative lately
    DETERIORATING = "deteriorating"  # collaborative early, then hostile and overriding advice
    ADVERSARIAL = "adversarial"  # frequent, severe and hostile, right up to now


@dataclass(frozen=True)
class DemoClient:
    name: str
    kind: str
    sector: str
    contact: str
    lead: str  # a DemoUser's username
    trajectory: Trajectory
    profile: str = ""  # a key of PROFILES; by default from the kind of client


# Short names for the table below.
GOOD, UP, DOWN, BAD = (
    Trajectory.HEALTHY,
    Trajectory.IMPROVING,
    Trajectory.DETERIORATING,
    Trajectory.ADVERSARIAL,
)
# fmt: off
CLIENTS = [
    # Corporate Advisory, led by Alex (advisor): the advisor's home page story.
    DemoClient("Harbour Logistics Ltd", ORG, "Logistics", "Graham Pike", "advisor", DOWN),
    DemoClient("Greenfield Dairy Co-operative", ORG, "Agriculture", "Siân Howells", "advisor",
               GOOD),
    DemoClient("Northwind Software plc", ORG, "Technology", "Priyanka Shah", "advisor", UP),
    DemoClient("Castellan Hotels Group", ORG, "Hospitality", "Victor Castellan", "advisor", BAD),
    DemoClient("Brightwater Utilities Ltd", ORG, "Utilities", "Helen Okonjo", "advisor", GOOD),
    DemoClient("Meridian Dental Partners LLP", ORG, "Healthcare", "Aaron Feld", "advisor", GOOD),
    DemoClient("Quarry Lane Builders Ltd", ORG, "Construction", "Terry Boyle", "advisor", BAD),
    DemoClient("Oakridge Academy Trust", ORG, "Education", "Judith Marsh", "advisor", GOOD),
    DemoClient("Tessera Biotech Ltd", ORG, "Life sciences", "Lena Petrova", "advisor", DOWN),
    DemoClient("Kestrel Aviation Services Ltd", ORG, "Aviation", "Colin Ashby", "advisor", UP),
    DemoClient("Marlow & Finch Solicitors LLP", ORG, "Legal services", "Rebecca Finch", "advisor",
               GOOD),
    DemoClient("Pemberton Retail Group", ORG, "Retail", "Nigel Pemberton", "advisor", DOWN),
    DemoClient("Saltmarsh Seafoods Ltd", ORG, "Food processing", "Ewan MacLeod", "advisor", UP),
    DemoClient("Ravenscourt Engineering Ltd", ORG, "Manufacturing", "Anita Desai", "advisor", GOOD),
    DemoClient("Vortex Media Holdings", ORG, "Media", "Jason Kerr", "advisor", BAD),
    # Corporate Advisory, led by Morgan (manager).
    DemoClient("Alder & Co Chartered Surveyors", ORG, "Property services", "Philippa Alder",
               "manager", GOOD),
    DemoClient("Lumen Renewables Ltd", ORG, "Energy", "Tomás Rivera", "manager", GOOD),
    DemoClient("St Brigid's Hospice", ORG, "Charity", "Ruth Cassidy", "manager", GOOD),
    DemoClient("Fairweather Foods plc", ORG, "Food & drink", "Owen Fairweather", "manager", GOOD),
    DemoClient("Copperline Telecom Ltd", ORG, "Telecoms", "Mei Lin Chow", "manager", UP),
    DemoClient("Jonathan Whitlock", IND, "Angel investor", "Jonathan Whitlock", "manager", UP,
               profile="investor"),
    DemoClient("Atlas Freight Forwarding Ltd", ORG, "Logistics", "Karen Doyle", "manager", DOWN),
    DemoClient("Bellweather Capital Partners", ORG, "Financial services", "Hugo Strand",
               "manager", DOWN),
    DemoClient("Redstone Property Developments Ltd", ORG, "Property development",
               "Darren Redstone", "manager", BAD),
    DemoClient("Halcyon Gaming Ltd", ORG, "Gaming", "Sasha Volkova", "manager", BAD),
    # Private Clients, led by Blake (advisor2).
    DemoClient("Dr. Priya Nair", IND, "Medicine", "Priya Nair", "advisor2", GOOD),
    DemoClient("Margaret & Tom Ellison", IND, "Retired", "Margaret Ellison", "advisor2", GOOD),
    DemoClient("Eleanor Voss", IND, "Arts", "Eleanor Voss", "advisor2", GOOD),
    DemoClient("The Hartley Family Trust", ORG, "Family trust", "Charles Hartley", "advisor2", GOOD,
               profile="family"),
    DemoClient("Samuel Okafor", IND, "Technology founder", "Samuel Okafor", "advisor2", GOOD),
    DemoClient("Rosa Delgado", IND, "Architecture", "Rosa Delgado", "advisor2", GOOD),
    DemoClient("Marcus Lindqvist", IND, "Professional sport", "Marcus Lindqvist", "advisor2", UP),
    DemoClient("Fiona Gallagher", IND, "Restaurant owner", "Fiona Gallagher", "advisor2", UP),
    DemoClient("Ashworth Family Office", ORG, "Family office", "Imogen Ashworth", "advisor2", UP,
               profile="family"),
    DemoClient("Victor Crane", IND, "Property investment", "Victor Crane", "advisor2", DOWN),
    DemoClient("Dr. Helena Brandt", IND, "Private medical practice", "Helena Brandt", "advisor2",
               DOWN),
    DemoClient("Kingsley Motors (Holdings) Ltd", ORG, "Motor retail", "Ray Kingsley", "advisor2",
               DOWN, profile="company"),
    DemoClient("Sebastian Rourke", IND, "Entertainment", "Sebastian Rourke", "advisor2", BAD),
    DemoClient("Lady Annabel Forsythe", IND, "Landed estate", "Annabel Forsythe", "advisor2", BAD),
    DemoClient("Dominic Vane", IND, "Financial trading", "Dominic Vane", "advisor2", BAD),
]
# fmt: on
NOTES = {
    "Harbour Logistics Ltd": "Family-owned haulier; new finance director since last spring.",
    "Northwind Software plc": "AIM-listed. The CFO was replaced after a difficult first year.",
    "Castellan Hotels Group": "Founder-led; disputes most invoices.",
    "Oakridge Academy Trust": "Multi-academy trust; the charity audit rules apply.",
    "Tessera Biotech Ltd": "Venture-backed; burning cash ahead of a Series B round.",
    "Pemberton Retail Group": "Third-generation family retailer; store closures under way.",
    "Vortex Media Holdings": "Acquisitive; wants deals closed faster than diligence allows.",
    "Jonathan Whitlock": "Invests in early-stage companies; holds several board seats.",
    "Bellweather Capital Partners": "FCA-regulated fund manager.",
    "Halcyon Gaming Ltd": "Licensed by the Gambling Commission.",
    "Copperline Telecom Ltd": "Bought by a private-equity fund in the autumn; new CFO since.",
    "Kingsley Motors (Holdings) Ltd": "Family business; the founder's son became MD this year.",
    "Lady Annabel Forsythe": "Estate in Gloucestershire; let farms and a holiday-cottage business.",
    "Dominic Vane": "Former hedge-fund trader; manages much of his own money.",
}

# Service lines by kind of client: (ongoing engagements, projects).
PROFILES = {
    "company": (
        ["Audit", "Tax advisory", "Payroll"],
        [
            "Audit",
            "Tax advisory",
            "Transactions",
            "Restructuring",
            "Payroll",
            "Risk & compliance",
            "Management consulting",
        ],
    ),
    "investor": (["Personal tax"], ["Transactions", "Wealth planning", "Personal tax"]),
    "private": (
        ["Personal tax", "Wealth planning"],
        ["Wealth planning", "Personal tax", "Estate planning", "Trusts & estates"],
    ),
    "family": (
        ["Trusts & estates", "Wealth planning"],
        ["Wealth planning", "Trusts & estates", "Estate planning"],
    ),
}
ONGOING_TITLES = {
    "Audit": "Annual audit and accounts",
    "Tax advisory": "Corporation tax compliance and advice",
    "Payroll": "Payroll and pensions outsourcing",
    "Personal tax": "Annual self-assessment and tax planning",
    "Wealth planning": "Ongoing investment management and advice",
    "Trusts & estates": "Trust administration and annual accounts",
}
PROJECT_TITLES = {
    "Audit": ["Grant compliance audit {year}", "Pension scheme audit {year}"],
    "Tax advisory": [
        "R&D tax relief claim FY{year}",
        "Group VAT review {year}",
        "Transfer pricing documentation {year}",
    ],
    "Transactions": [
        "Acquisition due diligence: Project {code}",
        "Sale readiness: Project {code}",
        "Refinancing support {year}",
    ],
    "Restructuring": [
        "Cash-flow turnaround plan {year}",
        "Covenant reset and lender negotiations",
        "Group simplification",
    ],
    "Payroll": ["Payroll system migration {year}", "Employment status review"],
    "Risk & compliance": [
        "Anti-money-laundering controls review",
        "Data protection readiness review",
        "Internal controls review {year}",
    ],
    "Management consulting": ["Operating model review", "Pricing strategy review {year}"],
    "Wealth planning": [
        "Retirement income plan",
        "Pension consolidation and transfer review",
        "Portfolio restructuring {year}",
    ],
    "Personal tax": [
        "Capital gains on property disposal",
        "Residence and domicile review",
        "HMRC enquiry support {year}",
    ],
    "Estate planning": ["Will and lasting power of attorney review", "Inheritance tax plan"],
    "Trusts & estates": ["Family trust restructuring", "Trust deed review {year}"],
}
CODE_NAMES = ["Aurora", "Bluebell", "Cobalt", "Juniper", "Larch", "Osprey", "Sable", "Tern"]
DESCRIPTIONS = {
    "Audit": "Audit of the financial statements, with a management letter to the board.",
    "Tax advisory": "Tax compliance and advice, with quarterly reviews with the finance team.",
    "Transactions": "Financial and tax due diligence, and support through to completion.",
    "Restructuring": "Cash management, lender negotiations and an operational turnaround plan.",
    "Payroll": "Monthly payroll, pensions auto-enrolment and year-end reporting.",
    "Risk & compliance": "Review of controls against regulatory requirements, with a plan to fix "
    "the gaps.",
    "Management consulting": "Review of the operating model, with recommendations to the board.",
    "Wealth planning": "Investment advice and portfolio management against an agreed risk profile.",
    "Personal tax": "Personal tax returns, payments on account and tax planning.",
    "Estate planning": "Wills, powers of attorney and inheritance tax planning.",
    "Trusts & estates": "Trust administration, trustee meetings and trust tax returns.",
}
# Fees in pounds: (lowest, highest).
FEES = {
    "Audit": (18_000, 95_000),
    "Tax advisory": (6_000, 40_000),
    "Transactions": (25_000, 150_000),
    "Restructuring": (30_000, 180_000),
    "Payroll": (4_000, 24_000),
    "Risk & compliance": (8_000, 45_000),
    "Management consulting": (15_000, 80_000),
    "Wealth planning": (3_000, 15_000),
    "Personal tax": (1_500, 6_000),
    "Estate planning": (2_000, 9_000),
    "Trusts & estates": (3_000, 12_000),
}


@dataclass(frozen=True)
class Dispute:
    """A disagreement that happens to clients of a service line (or, without
    lines, to any client of `kind`).

    `against` is what the client insisted on; without it the client cannot
    proceed against our advice (staffing, service levels). `happened` is how
    it ends when our advice is vindicated, `fine` when the client's route works
    (empty: it can't).
    """

    topic: str
    title: str
    request: str
    recommendation: str
    rationale: str
    lines: tuple[str, ...] = ()
    kind: str = ""
    against: str = ""
    risk: str = ""
    happened: str = ""
    fine: str = ""


T = Disagreement.Topic
DISPUTES = [
    # Companies.
    Dispute(
        T.FEES,
        "Fixed fee on an open-ended scope",
        "We want one fixed fee for the whole job. We're not signing up to an open meter.",
        "Agree a fixed fee for the defined phases, and time and materials with a cap for "
        "anything outside them.",
        "The scope depends on what the data room shows. A single fixed fee either prices in a "
        "large contingency or ends in a dispute when the work grows.",
        lines=("Transactions", "Restructuring", "Management consulting", "Risk & compliance"),
        against="a single fixed fee for an open-ended scope",
        risk="a fee dispute once the scope grows",
        happened="The scope grew by about a third; the overrun could not be billed and the "
        "final invoice became a dispute.",
        fine="The work stayed inside the original scope and the fixed fee held.",
    ),
    Dispute(
        T.FEES,
        "Payment terms of 120 days",
        "Our policy is 120-day terms for every supplier, you included. Take it or leave it.",
        "Keep 30-day terms, or bill monthly in advance against a retainer.",
        "Four months of unpaid work is credit risk we cannot carry, and fees outstanding at the "
        "year end would put our independence in question.",
        kind=ORG,
        against="moving our invoices to 120-day terms",
        risk="fees outstanding at the year end, which threatens our independence",
        happened="Fees were still outstanding at the year end; the balance had to be disclosed "
        "and the engagement partner recorded an independence threat.",
        fine="Invoices were paid on time despite the longer terms; nothing was outstanding at "
        "the year end.",
    ),
    Dispute(
        T.FEES,
        "Success fee for due diligence",
        "Work on a success fee. If the deal doesn't close, you don't get paid: that's how "
        "everyone else works.",
        "A reduced hourly rate with a modest completion bonus.",
        "Due diligence has to be objective. A fee that depends on the deal closing gives us a "
        "stake in the answer, which the lenders will not accept.",
        lines=("Transactions",),
        against="paying for due diligence only on completion",
        risk="the lenders rejecting the report as conflicted",
        happened="The lenders refused to rely on the report because of the contingent fee; a "
        "second firm was hired to repeat the work.",
        fine="The lenders accepted the report with a disclosure note; the fee structure caused "
        "no problem.",
    ),
    Dispute(
        T.SCOPE,
        "Skipping the stock count",
        "Nobody has time for a stock count this year. Use last year's figures and roll them "
        "forward.",
        "Attend a full count at the year end, or a count within two weeks with a roll-back.",
        "Inventory is the largest item on the balance sheet. Without a count we cannot conclude "
        "on it and the opinion may be qualified.",
        lines=("Audit",),
        against="skipping the year-end stock count",
        risk="a qualified audit opinion on inventory",
        happened="The opinion was qualified on inventory; the bank asked for an explanation "
        "under the loan covenants.",
        fine="Alternative procedures were enough and the opinion was unmodified.",
    ),
    Dispute(
        T.SCOPE,
        "New subsidiaries in the existing budget",
        "Just include the two new companies in the group work. They're tiny; it's an afternoon.",
        "Scope the two subsidiaries separately, with their own materiality and budget.",
        "One of them trades overseas with its own bank accounts; an afternoon would not meet "
        "the standard we sign up to.",
        lines=("Audit", "Tax advisory"),
        against="folding the new subsidiaries into the existing budget",
        risk="an under-scoped review of the overseas subsidiary",
        happened="A missed intercompany balance in the overseas subsidiary forced a late "
        "adjustment and a restatement of the interim numbers.",
        fine="The subsidiaries turned out to be as simple as the client said.",
    ),
    Dispute(
        T.SCOPE,
        "Pension scheme left out of the turnaround plan",
        "Leave the pension scheme out of the plan. The trustees are not your problem.",
        "Include the defined-benefit scheme and brief the trustees before the lenders see the "
        "plan.",
        "The scheme deficit ranks as a creditor, and the Pensions Regulator has powers over "
        "restructurings that weaken the employer covenant.",
        lines=("Restructuring",),
        against="leaving the pension scheme out of the plan",
        risk="the trustees and the Regulator objecting late",
        happened="The trustees objected after the plan went to the lenders; the Regulator "
        "opened an inquiry and the refinancing slipped by two months.",
        fine="The trustees accepted the plan without objection.",
    ),
    Dispute(
        T.SCOPE,
        "Board pack without the downside case",
        "Take the downside scenario out of the board pack. It just scares people.",
        "Keep the downside case, with the mitigations next to it.",
        "Directors have to see the risks they are approving; leaving the downside out would "
        "mislead the board.",
        lines=("Transactions", "Restructuring", "Management consulting"),
        against="presenting only the base and upside cases",
        risk="the board approving on incomplete information",
        happened="The downside case came about within six months; two directors asked why "
        "they had never seen it.",
        fine="Trading followed the base case and the omission made no difference.",
    ),
    Dispute(
        T.TIMELINE,
        "Trial balance a week before the filing deadline",
        "You'll get the trial balance the week before the filing date. Plan around it.",
        "Agree a hard close three weeks earlier, or apply for an extension now.",
        "A week is not enough for review; a late filing carries an automatic penalty and is "
        "on the public record.",
        lines=("Audit", "Tax advisory"),
        against="delivering the trial balance a week before the deadline",
        risk="a late filing penalty",
        happened="The accounts were filed late; Companies House charged the automatic penalty "
        "and the lender noticed.",
        fine="The finance team delivered clean numbers and the accounts were filed on time.",
    ),
    Dispute(
        T.TIMELINE,
        "Due diligence compressed into a week",
        "The seller wants exclusivity over in ten days. Do the full diligence in a week.",
        "A red-flag review this week, the full report before signing, and ask the seller for "
        "two more weeks of exclusivity.",
        "A week covers the headline risks only; tax and employment issues usually surface later.",
        lines=("Transactions",),
        against="signing on a one-week review",
        risk="liabilities coming to light after completion",
        happened="An unpaid PAYE liability of the target surfaced after completion; the "
        "warranty claim is still being argued.",
        fine="No material issue surfaced after completion.",
    ),
    Dispute(
        T.TIMELINE,
        "New payroll without a parallel run",
        "Switch everyone to the new payroll this month. We're not paying for two systems.",
        "Run the old and new payrolls in parallel for one month before switching.",
        "Without a parallel run, errors in pay codes and pension deductions reach employees' pay.",
        lines=("Payroll",),
        against="switching payroll without a parallel run",
        risk="employees being paid wrongly",
        happened="Forty staff were underpaid in the first run; an emergency payment and a "
        "pension correction followed.",
        fine="The first run was clean.",
    ),
    Dispute(
        T.APPROACH,
        "Whole contract booked as revenue up front",
        "Recognise the whole three-year contract this year. The customer has signed; that's "
        "revenue.",
        "Recognise the revenue as the service is delivered, over the three years.",
        "The standard requires revenue over the period of service. Booking it up front "
        "overstates profit and would be corrected at the audit.",
        lines=("Audit", "Tax advisory"),
        against="booking the whole contract as revenue this year",
        risk="an audit adjustment and a restatement",
        happened="The auditors required the adjustment; profit was restated and the bonus pool "
        "had to be reversed.",
        fine="The auditors accepted up-front recognition for the set-up phase, which was most "
        "of the value.",
    ),
    Dispute(
        T.APPROACH,
        "Cash-flow forecast without contingency",
        "Strip the contingency out of the forecast. The bank will read it as weakness.",
        "Keep a contingency and show it separately, with what would trigger its use.",
        "Lenders test forecasts; a forecast with no headroom that misses in month two loses "
        "their trust for the rest of the process.",
        lines=("Restructuring", "Management consulting"),
        against="presenting a forecast with no contingency",
        risk="missing the forecast early and losing the lenders' trust",
        happened="The forecast was missed in the second month; the lenders appointed their own "
        "monitoring accountant at the client's cost.",
        fine="Trading came in at forecast and the lenders never asked about headroom.",
    ),
    Dispute(
        T.APPROACH,
        "Property carried at last year's valuation",
        "Use last year's valuation for the property. Nothing has changed.",
        "Commission an updated valuation before the year end.",
        "Commercial property values in the area have fallen; an out-of-date valuation may "
        "overstate the assets and the covenant headroom.",
        lines=("Audit", "Restructuring"),
        against="carrying the property at last year's valuation",
        risk="overstated assets and covenant headroom",
        happened="The new valuation, obtained at the lender's request, came in 18% lower and a "
        "covenant was breached.",
        fine="The later valuation confirmed last year's figure.",
    ),
    Dispute(
        T.RISK,
        "Share transfer before the money-laundering checks",
        "He's an old friend of the board. Skip the identity checks; we'll send the documents "
        "later.",
        "Complete customer due diligence on the new shareholder before the share transfer.",
        "The money-laundering regulations make the checks a condition, not a formality; we "
        "cannot act on the transfer without them.",
        lines=("Transactions", "Risk & compliance"),
        against="completing the share transfer before the checks",
        risk="a breach of the money-laundering regulations",
        happened="The shareholder's source of funds could not be verified afterwards; we filed "
        "a suspicious activity report and stepped back from the transaction.",
        fine="The documents arrived a week later and the checks were clear.",
    ),
    Dispute(
        T.RISK,
        "Long-term contractors kept off the payroll",
        "Keep paying the contractors through their own companies. It's how the whole industry "
        "works.",
        "Review the contractors' employment status and move most of them onto the payroll.",
        "Several have worked full time for the company for years, on set hours and with its "
        "equipment. HMRC would likely treat them as employees, with back tax, interest and "
        "penalties.",
        lines=("Payroll", "Tax advisory"),
        against="keeping the long-term contractors off the payroll",
        risk="back PAYE, National Insurance and penalties",
        happened="HMRC opened an employment status enquiry and assessed three years of back tax "
        "and penalties.",
        fine="An HMRC compliance check accepted the contractor arrangements for the period.",
    ),
    Dispute(
        T.RISK,
        "Data breach not reported",
        "It was a few hundred records and we've fixed it. There's no need to tell the ICO.",
        "Report the breach to the ICO within 72 hours and tell the customers affected.",
        "The records include bank details, so the breach is likely to be reportable; failing "
        "to report is itself a breach and is treated more harshly than the incident.",
        lines=("Risk & compliance", "Management consulting", "Payroll"),
        against="not reporting the breach to the ICO",
        risk="regulatory action for failing to report",
        happened="A customer complained to the ICO; the regulator's letter cited the failure to "
        "report as the aggravating factor.",
        fine="The records turned out to be encrypted and the breach was not reportable.",
    ),
    Dispute(
        T.RISK,
        "All development time in the R&D claim",
        "Put all the developers' time into the R&D claim. Everyone does.",
        "Claim only the projects that sought an advance in technology, with the documents to "
        "support them.",
        "HMRC is reviewing software claims closely; claiming routine work risks the whole claim "
        "and a penalty for carelessness.",
        lines=("Tax advisory",),
        against="claiming all development time as R&D",
        risk="the claim being rejected with penalties",
        happened="HMRC opened an enquiry; most of the claim was disallowed and a careless-error "
        "penalty was charged.",
        fine="The claim was paid without an enquiry.",
    ),
    Dispute(
        T.RISK,
        "Covenant breach kept from the lender",
        "We'll be back under the covenant next quarter. Don't mention it to the bank.",
        "Tell the lender now and ask for a waiver before the compliance certificate is due.",
        "A compliance certificate that hides a breach is a misrepresentation; a waiver is far "
        "cheaper now than later.",
        lines=("Restructuring", "Audit"),
        against="not telling the lender about the covenant breach",
        risk="an event of default and the lender's loss of trust",
        happened="The lender found the breach in the quarterly numbers, called a default and "
        "charged a fee for the waiver it would have given freely.",
        fine="Trading recovered before the test date and the covenant was met.",
    ),
    Dispute(
        T.ETHICS,
        "Backdated board minutes",
        "Write the minutes as if the board approved the loan in March. It was agreed informally "
        "anyway.",
        "Minute the approval on the date it was given, and record the earlier informal "
        "agreement as such.",
        "Backdated minutes are false records; they would also undermine the company if the loan "
        "is ever challenged.",
        kind=ORG,
        against="backdating the board approval",
        risk="false company records",
        happened="The backdated minutes came to light in a shareholder dispute and damaged the "
        "board's credibility.",
    ),
    Dispute(
        T.ETHICS,
        "Related-party loan left undisclosed",
        "The loan to the MD's company doesn't need its own note. Put it in with other debtors.",
        "Disclose the loan as a related-party transaction, with its terms.",
        "Related-party disclosures are required by the accounting standards and company law; "
        "hiding the loan is a misstatement.",
        lines=("Audit",),
        against="not disclosing the loan to the MD's company",
        risk="a misstatement and questions from shareholders",
        happened="A minority shareholder raised the loan at the AGM; the accounts had to be "
        "reissued with the disclosure.",
    ),
    Dispute(
        T.ETHICS,
        "New contracts by Friday or dismissal",
        "Tell the staff they sign the new contracts by Friday or they're out.",
        "Consult properly on the changes and give notice under the existing contracts.",
        "Dismissal and re-engagement without consultation invites tribunal claims and a "
        "protective award.",
        lines=("Payroll", "Management consulting", "Restructuring"),
        against="forcing the contract change without consultation",
        risk="employment tribunal claims",
        happened="Eleven employees brought claims; the settlements cost more than the new terms "
        "saved.",
    ),
    Dispute(
        T.STAFFING,
        "Junior auditor taken off the job",
        "We don't want the junior on site any more. She asks too many questions.",
        "Keep the team as planned; we will look into any specific concern about conduct.",
        "The questions are part of the work. Removing someone because they challenge the client "
        "would compromise our independence.",
        lines=("Audit", "Risk & compliance"),
    ),
    Dispute(
        T.STAFFING,
        "Partner at every weekly meeting",
        "We want the partner at every weekly meeting, at the manager's rate.",
        "The partner attends the monthly steering meetings; the manager runs the weekly ones.",
        "Partner time at manager rates is not sustainable, and the manager is closer to the "
        "detail.",
        kind=ORG,
    ),
    Dispute(
        T.STAFFING,
        "Finance team choosing the audit samples",
        "Our finance team can prepare the testing for you. That halves the fee.",
        "Use schedules the client prepares for listings only; we select and test the samples "
        "ourselves.",
        "Auditors may rely on information the client prepares, but the client cannot choose or "
        "test what we audit.",
        lines=("Audit",),
    ),
    Dispute(
        T.COMMUNICATION,
        "Answers within the hour, evenings included",
        "I expect an answer within the hour, evenings included. That's what we pay for.",
        "A named contact during office hours and an agreed route for real emergencies.",
        "A sustainable service level protects the quality of the advice; out-of-hours calls "
        "should be rare and genuinely urgent.",
    ),
    Dispute(
        T.COMMUNICATION,
        "Instructions by text message",
        "Just act on my WhatsApp messages. I don't have time for formal instructions.",
        "Confirm material instructions in writing, by e-mail, before we act on them.",
        "Written instructions protect both sides and are needed for anything involving "
        "payments or filings.",
        against="instructing us by text message",
        risk="a disputed instruction",
        happened="An instruction sent by text was later disputed; the client said they had "
        "never authorised the payment.",
        fine="No instruction was ever disputed.",
    ),
    Dispute(
        T.COMMUNICATION,
        "Going around the engagement lead",
        "I'll speak directly to whoever is doing the work. I don't need to go through the manager.",
        "Keep the engagement lead as the single point of contact; they will bring in the "
        "specialists.",
        "Side conversations with junior staff lead to half-answers that nobody has reviewed.",
        kind=ORG,
    ),
    Dispute(
        T.OTHER,
        "Acquisition announced before exchange",
        "We're telling the staff and the trade press about the acquisition this week.",
        "Wait until contracts are exchanged; brief key staff under embargo if needed.",
        "Announcing before exchange hands the seller leverage and, for a listed buyer, risks "
        "breaching the market-abuse rules.",
        lines=("Transactions",),
        against="announcing the acquisition before exchange",
        risk="the seller reopening the price",
        happened="The seller reopened the price after the announcement; the deal closed late "
        "and 6% dearer.",
        fine="Contracts were exchanged on schedule and the early announcement did no harm.",
    ),
    # Private clients.
    Dispute(
        T.FEES,
        "Fee for chasing paperwork",
        "I'm not paying for hours you spent chasing my paperwork. That's your job.",
        "Send the records by the agreed date; work caused by late records is billed at the "
        "agreed hourly rate.",
        "The engagement letter sets a date for the records; the extra work is real and was agreed.",
        lines=("Personal tax",),
    ),
    Dispute(
        T.FEES,
        "Advice fees taken from the pension",
        "Take your fees out of my pension pot. I don't want to pay them from my current account.",
        "Pay the advice fees from income or savings and keep the pension invested.",
        "Fees taken from the pension stop compounding tax-free, and some fees taken that way "
        "can be unauthorised payments.",
        lines=("Wealth planning",),
        against="paying the advice fees out of the pension",
        risk="a smaller pension and possible tax charges",
        happened="HMRC treated part of the fees as an unauthorised payment; a tax charge followed.",
        fine="The fees were paid from the pension with no tax charge.",
    ),
    Dispute(
        T.FEES,
        "No annual review",
        "I don't need an annual review. Stop charging me for one.",
        "Keep the annual review, or move to a transaction-only service and accept what it "
        "leaves out.",
        "An ongoing advice fee must match a service actually delivered; without reviews the "
        "portfolio needs a different service, not no service.",
        lines=("Wealth planning",),
    ),
    Dispute(
        T.APPROACH,
        "Half the portfolio in one company",
        "Put half of the portfolio into Caldera Energy shares. I worked there for twenty "
        "years; I know it's undervalued.",
        "Keep any single holding below 10% of the portfolio.",
        "Half the savings in one company puts retirement income at the mercy of one share "
        "price, and the income is needed in five years.",
        lines=("Wealth planning", "Trusts & estates"),
        against="putting half the portfolio into one company's shares",
        risk="a large and permanent loss of savings",
        happened="The shares fell by 40% after a profit warning; the portfolio lost a fifth of "
        "its value.",
        fine="The shares did well; the concentration paid off this time.",
    ),
    Dispute(
        T.RISK,
        "Transfer out of the final-salary pension",
        "Transfer my final-salary pension into a drawdown plan. I want control over my own money.",
        "Keep the defined-benefit pension: it pays a guaranteed income that rises with inflation.",
        "The transfer gives up a guaranteed income for investment risk; our analysis shows the "
        "plan needs returns well above what is realistic.",
        lines=("Wealth planning",),
        against="transferring out of the defined-benefit pension",
        risk="running out of money in retirement",
        happened="Drawdown returns fell short of the plan and the income had to be cut by a "
        "quarter.",
        fine="Returns were strong and the drawdown plan is ahead of its targets.",
    ),
    Dispute(
        T.APPROACH,
        "Giving the house to the children",
        "Put the house in the children's names now and I'll carry on living there. It saves "
        "the inheritance tax.",
        "Don't transfer the house while living in it rent-free; look at other gifts or a "
        "properly structured arrangement.",
        "A gift with reservation of benefit stays in the estate for inheritance tax, and the "
        "children would pay capital gains tax on a later sale.",
        lines=("Estate planning",),
        against="giving away the house while continuing to live in it",
        risk="no inheritance tax saving and a capital gains bill for the children",
        happened="HMRC confirmed the house still counts as part of the estate; the children "
        "now also face a capital gains bill.",
    ),
    Dispute(
        T.ETHICS,
        "Rental income left off the return",
        "The flat barely makes a profit. Leave it off the return.",
        "Declare the rental income and claim the allowable expenses.",
        "HMRC receives data from letting agents and deposit schemes; undeclared income carries "
        "penalties of up to the full tax again.",
        lines=("Personal tax",),
        against="leaving the rental income off the return",
        risk="penalties and an HMRC enquiry",
        happened="HMRC matched the letting agent's data to the return; tax, interest and a "
        "penalty were paid.",
    ),
    Dispute(
        T.RISK,
        "Bonds sold for crypto-assets",
        "Sell the bonds and put the money into crypto. The bonds have done nothing for two years.",
        "Keep the bond allocation; if you want some exposure, cap it at 5% of the portfolio.",
        "The bonds pay next year's school fees; a crypto allocation can halve in a month.",
        lines=("Wealth planning", "Trusts & estates"),
        against="switching the bond allocation into crypto-assets",
        risk="losing the money set aside for school fees",
        happened="The crypto allocation fell by more than half; the school fees had to come "
        "from the pension lump sum.",
        fine="The crypto allocation rose sharply and profits were taken in time.",
    ),
    Dispute(
        T.TIMELINE,
        "Tax records in late January",
        "You'll get the papers in January, same as every year.",
        "Send the records by the end of November so the return can be checked and the payment "
        "planned.",
        "January leaves no time to check the figures; last year's return was filed on the last "
        "day, with errors.",
        lines=("Personal tax",),
        against="sending the records in late January",
        risk="a late filing penalty and interest",
        happened="The return was filed late; a late filing penalty and interest on the payment "
        "followed.",
        fine="The records arrived complete and the return was filed on time.",
    ),
    Dispute(
        T.APPROACH,
        "Pension contributions stopped to clear the mortgage",
        "Stop my pension contributions and put everything into paying off the mortgage.",
        "Keep contributing at least enough to get the employer's matching; overpay the mortgage "
        "with the rest.",
        "Stopping loses the employer's contributions and the tax relief: a return the mortgage "
        "rate cannot beat.",
        lines=("Wealth planning",),
        against="stopping pension contributions to overpay the mortgage",
        risk="losing the employer's contributions and the tax relief",
        happened="Two years of employer contributions were lost; catching up now needs much "
        "higher contributions.",
        fine="Mortgage rates rose sharply and clearing the mortgage early paid off.",
    ),
    Dispute(
        T.SCOPE,
        "Home-made codicil to the will",
        "I've written a codicil myself leaving the cottage to my nephew. Just file it with the "
        "will.",
        "Let us redraft the will; a home-made codicil may be invalid or conflict with the trust.",
        "The codicil was not witnessed properly and conflicts with the existing trust.",
        lines=("Estate planning",),
        against="relying on a home-made codicil",
        risk="an invalid gift and a family dispute",
        happened="A later review found the codicil invalid; it had to be redone after the "
        "nephew had already been told.",
        fine="The codicil was valid once properly witnessed.",
    ),
    Dispute(
        T.RISK,
        "Offshore bond paying 12% guaranteed",
        "A friend put me onto an offshore bond paying 12% guaranteed. Move £200,000 into it.",
        "Don't invest: the provider is not authorised and the offer has the signs of an "
        "investment scam.",
        "12% guaranteed is not realistic; the provider is not on the FCA register and the bank "
        "details are overseas.",
        lines=("Wealth planning", "Trusts & estates"),
        against="investing in the unregulated offshore bond",
        risk="losing the money to a scam, with no compensation scheme",
        happened="The provider stopped paying after four months and cannot be traced; the money "
        "is lost.",
    ),
    Dispute(
        T.TIMELINE,
        "The whole holding sold in one tax year",
        "Sell all the shares this week, before the tax year ends, and move the cash.",
        "Spread the sales over this tax year and next to use two annual exemptions.",
        "Selling at once puts the whole gain into one year at the higher rate; spreading it "
        "saves several thousand pounds.",
        lines=("Personal tax", "Wealth planning"),
        against="selling the whole holding in one tax year",
        risk="an avoidable capital gains tax bill",
        happened="The whole gain fell into one year; about £9,000 more tax was paid than "
        "necessary.",
        fine="The market fell after the sale, so selling early avoided a loss larger than the "
        "extra tax.",
    ),
    Dispute(
        T.APPROACH,
        "Buy-to-let flats in a personal name",
        "Buy the two flats in my own name. Companies are a hassle.",
        "Buy through a limited company, given the tax rate and the plan to expand.",
        "At the higher rate, mortgage interest relief is restricted for individuals; a company "
        "keeps full relief and suits a growing portfolio.",
        lines=("Personal tax", "Wealth planning"),
        against="buying the flats in a personal name",
        risk="higher tax on the rental profits",
        happened="With interest rates up, the restricted relief turned the rental profit into a "
        "loss after tax.",
        fine="Rates stayed low and personal ownership cost little extra.",
    ),
    Dispute(
        T.ETHICS,
        "Sale proceeds through a relative's account",
        "Pay the sale proceeds into my brother's account for now. It's simpler for tax.",
        "Pay the proceeds into the client's own account.",
        "Routing the proceeds through a third party to keep them off the return is evasion, "
        "and we would have to report it.",
        lines=("Personal tax", "Estate planning"),
        against="routing the sale proceeds through a relative's account",
        risk="a report to the authorities for tax evasion",
        happened="We made the report we were obliged to make; HMRC opened an investigation and "
        "the bank froze the account.",
    ),
    Dispute(
        T.ETHICS,
        "Trust changed behind the other trustees' backs",
        "Change the trust so my daughter gets nothing. The other trustees don't need to know yet.",
        "Any change needs all the trustees acting together, within the powers in the trust deed.",
        "A trustee acting alone has no power to change the beneficiaries; doing it behind the "
        "others' backs is a breach of trust.",
        lines=("Trusts & estates", "Estate planning"),
        against="acting without the other trustees",
        risk="a claim for breach of trust",
        happened="The other trustees objected and the change was reversed; the daughter has "
        "instructed solicitors.",
    ),
    Dispute(
        T.COMMUNICATION,
        "Everything copied to the family",
        "Send everything to my son too. He handles things now.",
        "Get a signed authority first; until then we discuss the client's affairs with the "
        "client only.",
        "Confidentiality means we need the client's written authority, and it protects the "
        "client too.",
        kind=IND,
    ),
    Dispute(
        T.STAFFING,
        "A partner on the file",
        "I want a partner on my file, not a manager.",
        "Keep the manager as the day-to-day adviser, with the partner reviewing the annual plan.",
        "The manager knows the file best; a partner on every call would double the fee for no "
        "better advice.",
        kind=IND,
    ),
]

# The client's acknowledgment, in their own voice: calm, or not.
WORDS = {
    (ORG, False): [
        "We have read your advice of {advised} against {against}. We understand the risk of "
        "{risk}, and the board has decided to go ahead anyway. We take responsibility for that "
        "decision.",
        "Understood, and thank you for setting it out. Our decision is to go ahead with "
        "{against}. We accept that this may lead to {risk}.",
        "Confirming what I said in the meeting: we know you advise against {against}, we "
        "understand the risk of {risk}, and we are going ahead.",
    ],
    (ORG, True): [
        "Noted. We know you think {against} is a mistake. We are doing it anyway and we accept "
        "the risk of {risk}. Now please get on with the work.",
        "I understand the risk of {risk}; you've told us often enough. We are going ahead with "
        "{against}. It's our business and our call.",
    ],
    (IND, False): [
        "I have read your letter of {advised}. I understand that by {against} I risk {risk}. "
        "It is my money and my decision, and I want to go ahead.",
        "I know you don't agree with {against}. I understand the risk of {risk} and I'm going "
        "ahead anyway; I won't hold you responsible.",
    ],
    (IND, True): [
        "Yes, I understand the risk of {risk}. I've heard it three times now. I still want to "
        "go ahead with {against}, and if it goes wrong that's on me.",
        "I am instructing you to go ahead with {against}. I accept the risk of {risk}. Please "
        "stop trying to talk me out of it.",
    ],
}
V = Disagreement.Verdict
OUTCOMES = {
    # When the client proceeded against advice, the template says how it went.
    (Disagreement.Decision.PROCEEDED, V.MIXED): "Partly as we warned: the risk of {risk} "
    "came about in part, but the cost was smaller than feared.",
    (Disagreement.Decision.PROCEEDED, V.INCONCLUSIVE): "No clear result either way. The risk "
    "of {risk} has not come about so far; closed at the periodic review.",
    (Disagreement.Decision.ACCEPTED, V.ADVICE_VINDICATED): "The client followed our "
    "recommendation and the risk did not arise. Closed at the next review.",
    (Disagreement.Decision.ACCEPTED, V.CLIENT_VINDICATED): "On reflection the client's own "
    "route would have worked as well; the extra cost of our approach turned out not to be "
    "needed.",
    (Disagreement.Decision.ACCEPTED, V.MIXED): "Our recommendation was followed; it cost more "
    "time than expected, though the risk was avoided.",
    (Disagreement.Decision.ACCEPTED, V.INCONCLUSIVE): "Our recommendation was followed; too "
    "early to say whether it made a difference. Closed without further action.",
    (Disagreement.Decision.COMPROMISE, V.ADVICE_VINDICATED): "The compromise kept the main "
    "safeguard we recommended, and it proved necessary.",
    (Disagreement.Decision.COMPROMISE, V.CLIENT_VINDICATED): "The compromise leaned towards "
    "the client's approach, and it worked out.",
    (Disagreement.Decision.COMPROMISE, V.MIXED): "The compromise held in part: some of the "
    "risk we described still came through, at a smaller scale.",
    (Disagreement.Decision.COMPROMISE, V.INCONCLUSIVE): "The compromise worked well enough; "
    "nothing conclusive either way.",
}
# Verdict weights (advice vindicated, client vindicated, mixed, inconclusive).
VERDICTS = [V.ADVICE_VINDICATED, V.CLIENT_VINDICATED, V.MIXED, V.INCONCLUSIVE]
VERDICTS_AFTER_OVERRIDE = {
    Trajectory.HEALTHY: [35, 35, 15, 15],
    Trajectory.IMPROVING: [50, 20, 15, 15],
    Trajectory.DETERIORATING: [78, 6, 10, 6],
    Trajectory.ADVERSARIAL: [62, 13, 15, 10],
}
VERDICTS_AFTER = {
    Disagreement.Decision.ACCEPTED: [55, 5, 10, 30],
    Disagreement.Decision.COMPROMISE: [30, 10, 40, 20],
}
# A manager's review note: what the record needs, then either nothing more or
# a word about the tone.
REVIEW_NOTES = {
    "acknowledged": "Reviewed. The advice, the risks and {client}'s acknowledgment in their own "
    "words are on file: this is the record we need if it goes wrong.",
    "unacknowledged": "Reviewed. We still have no acknowledgment from {client}. {advisor}, "
    "please get it in writing this week; an e-mail reply in their own words is enough.",
    "pending": "Reviewed while the decision is open. The recommendation is clear and the risks "
    "are set out. {advisor}, chase {client} for a decision and log the answer here.",
    "settled": "Reviewed. Well handled: the risks were explained and {client} came round.",
}
CALM_NOTE = " Nothing to add."
HOSTILE_NOTE = (
    " The tone of this conversation worries me; let's discuss the relationship at our next "
    "one-to-one before we take on more work."
)
REPLIES = [
    "Thanks, {manager}. I've asked for it in writing and will attach the reply here.",
    "Agreed. I'll raise it at the steering meeting next week.",
    "Will do. I've put a follow-up in the diary.",
]
# How many disagreements each kind of client has, and how they spread in time:
# phase = random() ** skew, so a skew below 1 crowds them towards today.
PER_CLIENT = {
    Trajectory.HEALTHY: (4, 9),
    Trajectory.IMPROVING: (15, 22),
    Trajectory.DETERIORATING: (12, 17),
    Trajectory.ADVERSARIAL: (23, 31),
}
SKEW = {
    Trajectory.HEALTHY: 1.0,
    Trajectory.IMPROVING: 1.6,
    Trajectory.DETERIORATING: 0.45,
    Trajectory.ADVERSARIAL: 0.6,
}
# (how many disagreements, within how many days of today) are always recent.
RECENT = {
    Trajectory.HEALTHY: (1, 45),
    Trajectory.IMPROVING: (1, 60),
    Trajectory.DETERIORATING: (2, 30),
    Trajectory.ADVERSARIAL: (3, 25),
}
# Some topics are graver than others.
SEVERITY_BIAS = {
    T.ETHICS: 0.15,
    T.RISK: 0.1,
    T.APPROACH: 0.05,
    T.STAFFING: -0.15,
    T.COMMUNICATION: -0.15,
}

# --- The demo's day -------------------------------------------------------------
# What waits on each person with clients when the demo starts: a working day's
# worth, not two years' backlog. The most recent open items stay open up to
# these numbers; older ones have been settled (decided, acknowledged, proved).
OPEN_ITEMS = {"decision": 5, "acknowledgment": 2, "outcome": 6}
# Follow-ups among those open items: overdue (set within the last OVERDUE_DAYS),
# and due in the coming week.
FOLLOW_UPS = {"overdue": 4, "due": 3}
OVERDUE_DAYS = 9

# This morning: an improving client turns adversarial over one conversation,
# logged through the same service as any other (the band change notifies the
# lead advisor and the team's manager).
TURNING_CLIENT = "Copperline Telecom Ltd"
TURNING_POINT = Dispute(
    T.RISK,
    "Revenue from the network-sharing deal booked up front",
    "The fund wants the whole ten-year network-sharing deal in this year's revenue. Book it "
    "now or we will find auditors who will.",
    "Recognise the revenue over the ten years as the network is shared, and explain the "
    "deal's value in the front half of the annual report instead.",
    "The standard recognises revenue as the service is delivered. Booking ten years up front "
    "would misstate the accounts, and we could not sign a clean opinion on them.",
    against="booking the network-sharing revenue up front",
    risk="misstated accounts and a qualified audit opinion",
)
# A manager's band override that ends within the fortnight.
OVERRIDE_CLIENT = "Pemberton Retail Group"
OVERRIDE_DAYS = 10
OVERRIDE_REASON = (
    "The store closures explain most of this friction. Nigel agreed a reset at our meeting "
    "and the board has accepted our restructuring plan: treat the relationship as strained, "
    "not adversarial, until the closures are done."
)
