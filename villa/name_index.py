"""Name search from the gram index: a name containing the typed text, without reading every customer.

name_gram holds each character and each pair of adjacent characters of every customer's name, kept
by database triggers (migrations/0019_name_grams.py). One typed character is looked up as it is; longer
text by its pairs, the rarest first: a customer has them all, and a final INSTR/STRPOS keeps only
names holding the text in one piece. The match is literal and case-sensitive, as INSTR's: % and _
match themselves. A text one of whose pairs no name has is answered without reading customers.
"""

import math

from peewee import SQL, fn

from villa.db import db, is_sqlite
from villa.models import Customer, NameGram

# A gram is common when more than C names hold it (a surname, a frequent character): then reading
# customers newest first and looking each up in the index finds a page sooner than gathering every
# customer that holds it. Postings are counted up to C, no further. Counting a posting costs about
# a fifteenth of reading a customer and probing the index, and a page past C reads about
# 25 × customers / C of them: the two together cost least at C = √(15 × 25 × customers), about
# 20 √customers (20,000 at 1M; 63,000 at 10M, where counting to a fiftieth of the customers took
# a surname search 16 ms of its 21).
COUNT_CAP_PER_ROOT = 20
MIN_COUNT_CAP = 1000


def grams_of(text: str) -> list[str]:
    """The grams the index answers `text` with: itself for one character, else its distinct pairs."""
    if len(text) <= 1:
        return [text] if text else []
    return list(dict.fromkeys(text[i : i + 2] for i in range(len(text) - 1)))


def name_contains(text: str):
    """A condition on Customer: its name contains `text`, as INSTR(name, text) > 0 would say."""
    grams, common = _rarest_first(grams_of(text))
    if not grams or grams[0][1] == 0:
        return SQL("1 = 0")  # some pair no name has: tested once, before any customer is read
    if grams[0][1] >= common:
        # Every gram common: newest customers first, each looked up in the index, up to a page.
        found = None
        for n, (gram, _count) in enumerate(grams):
            holds = fn.EXISTS(_postings(gram, f"h{n}", Customer.id))
            found = holds if found is None else found & holds
    else:
        # The rarest gram's customers, kept when they hold the other grams too.
        driver, *others = (gram for gram, _count in grams)
        postings = NameGram.select(NameGram.customer_id).where(NameGram.gram == driver)
        for n, gram in enumerate(others):
            postings = postings.where(fn.EXISTS(_postings(gram, f"g{n}", NameGram.customer_id)))
        found = Customer.id.in_(postings)
    if len(text) > 2:  # the pairs may sit apart in the name: the text must be there in one piece
        contiguous = fn.INSTR(Customer.name, text) if is_sqlite() else fn.STRPOS(Customer.name, text)
        found &= contiguous > 0
    return found


def _postings(gram: str, alias: str, customer_id):
    """SELECT 1 when this customer's name holds the gram (a look-up in the primary key)."""
    other = NameGram.alias(alias)
    return other.select(SQL("1")).where((other.gram == gram) & (other.customer_id == customer_id))


def _rarest_first(grams: list[str]) -> tuple[list[tuple[str, int]], int]:
    """Each gram with its number of postings, fewest first, and the count from which a gram is
    common (counting stops there)."""
    if not grams:
        return [], 0
    newest = db.execute_sql("SELECT max(id) FROM customer").fetchone()[0] or 0
    common = max(MIN_COUNT_CAP, COUNT_CAP_PER_ROOT * math.isqrt(newest))
    capped = f"SELECT 1 FROM name_gram WHERE gram = %s LIMIT {common}"
    counted = " UNION ALL ".join(
        f"SELECT {n}, (SELECT count(*) FROM ({capped}) AS p{n})" for n in range(len(grams))
    )
    sql = counted.replace("%s", "?") if is_sqlite() else counted
    counts = dict(db.execute_sql(sql, grams).fetchall())
    ranked = sorted(((gram, counts[n]) for n, gram in enumerate(grams)), key=lambda pair: pair[1])
    return ranked, common
