"""privacy_lab: scrub PII, pseudonymise, k-anonymise, add DP noise, forget a user.

Each task lives in its own module (``scrub``, ``pseudonym``, ``kanon``, ``dp``,
``forget``). Nothing is imported here, so importing one module never pays for another
(``forget`` needs Feast, which takes seconds to import).
"""
