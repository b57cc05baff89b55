"""X12 835 remittances and 837 claims: bytes in, canonical events and located problems out.

The pipeline, bottom up: ``segments`` (our own streaming tokenizer) -> ``envelope`` (ISA/GS/ST
and their trailers) -> ``remittance`` (835) or ``claim`` (837) -> canonical events. ``interchange``
cuts received files into interchanges for intake. Pure: no I/O, no clock, no settings; patient
identifiers become tokens through ``ctx.tokenizer`` the moment they are read, and names, birth
dates and addresses are never read at all.

Locators (one notation everywhere; steps joined by "/", every step indexed from 1):

- ``ISA[i]``, ``IEA[i]``: the i-th interchange of the stored message and its trailer (a stored
  message normally holds one, so ``ISA[1]``);
- ``GS[g]``, ``GE[g]``: the g-th functional group, counted across the message;
- ``ST[s]``, ``SE[s]``: the s-th transaction set, counted across the message (not within its group),
  so ``ST[s]`` alone says which one;
- loops by their implementation-guide id, counted within the transaction set:
  835 ``1000A`` payer, ``1000B`` payee, ``2000`` LX, ``2100`` claim; 837 ``2000A/B/C`` HL levels,
  ``2300`` claim; service lines (835 ``2110``, 837 ``2400``) are counted within their claim;
- a segment by id, counted within its loop: ``ST[1]/2100[3]/2110[2]/CAS[1]``;
- ``-e`` appends the element position: ``ST[2]/2100[3]/CAS[1]-6`` is the amount of the second
  adjustment triple, ``SE[1]-1`` the segment count;
- a segment the reader could not place in a loop (an over-long element) is located by position:
  ``ST[1]/SEG[57]`` counts from the ST (= 1, as SE01 does), ``ISA[1]/SEG[3]`` from the ISA.

Tolerances, and how each is recorded:

- SVC01, SV101 and SV202 composites whose components are separated by a character other than
  ISA16 (three corpus 835s declare one separator in ISA16 and use another, ``SVC*HC>55669``): when
  the declared separator does not occur and the third character is punctuation after a
  two-character qualifier, that character is read as the separator. An INFO problem marks the
  first such composite of each transaction set. Procedures are always returned joined with ':'.
- whitespace, CR/LF and byte-order marks between segments, and ISAs without the fixed-width
  padding: read silently;
- BPR16 missing or not a date (a WARNING, as in three corpus files): the DTM*405 production
  date, else the received date, is used so a typo does not hold up the cash;
- a transaction set repeated in one message (the 004010 corpus file sends one twice): both are
  read, their events share keys (the store keeps the first), and an EVENT_CONFLICT WARNING says so.

What withholds events: any ERROR in an 835 transaction set (an imbalance, an unreadable amount, a
missing key, a wrong or missing SE) withholds the whole set; in an 837 an ERROR withholds only its
claim. GE and IEA mismatches are WARNINGs.
"""

from revbridge.formats.x12.format import X12, X12Format

__all__ = ["X12", "X12Format"]
