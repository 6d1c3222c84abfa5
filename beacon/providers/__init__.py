"""Provider access: the official SendGrid, Twilio and Stripe SDK clients, and local fakes of all three.

:mod:`beacon.providers.clients` hands out SDK clients pointed at the real services when credentials
are configured and at the local fake server (:mod:`beacon.providers.fake`) otherwise, so every
caller talks real HTTP through the official SDKs either way.
"""
