"""In-process stand-ins for the SaaS and self-hosted systems the lab drives (Auth0, Casdoor).

Each emulator is a real HTTPS server on 127.0.0.1, so the real SDKs talk to it unchanged.
"""
