"""Password hashes for Auth0's bulk import, which refuses plaintext passwords.

The bcrypt work factor exists to slow down guessing of passwords people chose. A password the lab
generated has ~140 bits of randomness, so no work factor adds to its safety while a high one would
cost 0.1 s per user (20 s for a 200-user roster): generated passwords use bcrypt's minimum cost,
passwords from lab.yaml the usual 10. Auth0 re-hashes with its own settings at the first login.
"""

from __future__ import annotations

GENERATED_COST = 4
CHOSEN_COST = 10


def bcrypt_hash(password: str, *, generated: bool) -> str:
    import bcrypt

    salt = bcrypt.gensalt(rounds=GENERATED_COST if generated else CHOSEN_COST, prefix=b"2b")
    return bcrypt.hashpw(password.encode(), salt).decode()
