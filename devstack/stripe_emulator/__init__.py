"""A local Stripe emulator: localstripe plus the parts of the Stripe API this project uses.

localstripe (https://github.com/adrienverge/localstripe) is a stateful, in-memory fake of the
Stripe API. This package extends it *in process*, through its own extension points (new
``StripeObject`` subclasses, routes wrapped by ``localstripe.server.api_extra``, wrappers around
class-level validation, aiohttp middlewares), without copying or editing its files.

Modules: ``common`` (errors shaped like Stripe's, parameter checks, events: what the others share),
``catalog`` (1), ``checkout`` (2), ``payments`` (3, 6, 7), ``billing`` (8), ``customers`` (13), ``promotions``
(14), ``billing_terms`` (15), ``setup_intents`` (16), ``portal`` (17), ``entitlements`` (18),
``checkout_subscriptions`` (19), ``webhooks`` (20), ``connect`` (21, 24), ``metering`` (22), ``deletion`` (23),
``server`` (4, 9, 10, 11, 12, and ``install()`` / ``main()``, run in the emulator's process), ``process``
(:class:`StripeEmulator`, the emulator as a child process, and the test helpers that drive it).

Extensions applied by ``server.install()`` (idempotent; called before the server starts):

1. **Prices** (``/v1/prices``: create, retrieve, update, list). localstripe only has legacy Plans.
   A recurring price also creates a localstripe Plan with the *same id*, amount and interval, so
   localstripe's own subscriptions (``items=[{"plan": price.id}]``) work too; ``items[].price`` is
   extension 8. Emits ``price.created`` / ``price.updated`` (and ``product.created`` for ``product_data``).
2. **Checkout Sessions** (``/v1/checkout/sessions``: create, retrieve, list,
   ``/{id}/expire``), ``mode=payment`` only. ``url`` points at a small page served by the
   emulator on the Host the client used (``/checkout/<id>``, exempt from localstripe's API-key
   check like checkout.stripe.com) with "Pay" / "Pay with a declined card" buttons, so a browser
   test can walk through checkout and land on ``success_url``. The test helper
   ``POST /_test/checkout/sessions/{id}/complete`` (optional ``payment_method``, default
   ``pm_card_visa``; needs the API key) plays the customer paying: it creates and confirms a
   PaymentIntent with localstripe's own machinery (so ``payment_intent.succeeded`` /
   ``payment_failed`` are emitted as usual), then marks the session paid and emits
   ``checkout.session.completed``. A decline leaves the session open and answers the 402 card
   error. Sessions never expire by themselves: use ``/expire`` (``checkout.session.expired``).
3. **Parameters localstripe rejects but Stripe accepts and we use** (all in
   ``payments.EXTRA_PARAMS``): PaymentIntent ``description``, ``receipt_email``,
   ``statement_descriptor_suffix`` (stored and echoed), ``automatic_payment_methods`` (stored);
   Refund ``reason`` (stored). Refund ``metadata`` is already supported by localstripe.
4. **Idempotency keys.** A POST repeating an ``Idempotency-Key`` on the same path replays the
   saved response (header ``Idempotent-Replayed: true``); with a different body it is a 400
   ``idempotency_error``, as on Stripe. Only responses of requests that ran are saved (2xx and
   402 card errors). ``DELETE /_config/data`` also clears the saved responses. stripe-python
   sends a key with every POST, so every POST response is kept for the emulator's lifetime.
5. **Events** for the new objects go through localstripe's ``Event`` and ``schedule_webhook`` (``common.emit``),
   so they are listed by ``/v1/events`` and delivered to registered webhooks with the same
   signature (``stripe.Webhook.construct_event`` accepts them).
6. **Retrying a declined PaymentIntent.** As on Stripe, giving a declined PaymentIntent a new
   ``payment_method`` makes it ``requires_confirmation`` again, and ``confirm(id,
   payment_method=...)`` attaches and confirms in one call (localstripe answers 500 to both).
   ``confirm`` also takes the ``client_secret`` Stripe.js sends (checked against the intent) and
   ``use_stripe_sdk``; a decline answers Stripe's card error (``type: card_error``, ``code:
   card_declined``, ``decline_code``, the ``payment_intent``). A failed 3-D Secure challenge
   (``_authenticate`` with ``success=false``) sends ``payment_intent.payment_failed``, as Stripe does.
7. **Refund events.** localstripe sends none; a refund here (by the API or "in the Dashboard", which is
   the same call without our metadata) sends ``refund.created`` and ``charge.refunded`` (the charge with
   its refunds listed), as Stripe does, and carries the ``payment_intent`` of its charge. Listing the refunds
   of a PaymentIntent that has no charge answers an empty list, as Stripe does.
8. **Subscriptions and invoices** in the current API's shapes (prices on items, ``default_incomplete``
   with the first invoice's ``confirmation_secret``, renewals and failed renewals on demand): see
   ``devstack/stripe_emulator/billing.py``.
9. **State file.** localstripe pickles its whole store to the hard-coded
   ``/tmp/localstripe.pickle`` after every write, shared by every instance on the machine. Here
   it goes to a private temporary directory (removed at exit) and is never loaded back: every
   emulator starts empty.
10. **Stripe.js stand-in, extended.** ``GET /js.stripe.com/v3/`` serves localstripe's stand-in followed
   by ``devstack/stripe_js/stripe-v3-extension.js`` (read on every request), which adds what a real
   card integration calls: ``createPaymentMethod``, ``confirmCardPayment(secret, {payment_method:
   {card: element}})`` (decline and 3-D Secure included), ``confirmCardSetup`` (a card saved as
   ``createPaymentMethod`` makes it) and ``retrievePaymentIntent``, with Stripe.js's
   signatures and results. A page written for https://js.stripe.com/v3/ runs unchanged against it.
11. **Publishable-key calls, as Stripe.js makes them.** Besides localstripe's own (tokens, sources,
   ``_authenticate``), these accept the publishable key (``key=pk_...`` in the form or query) instead
   of a secret key: ``POST /v1/payment_methods``, and, with the intent's ``client_secret``, ``POST
   /v1/payment_intents/{id}/confirm`` and ``GET /v1/payment_intents/{id}``. A wrong client secret is a 401.
12. **No orphans.** ``--parent-pid PID`` (passed by :class:`StripeEmulator`) makes the emulator exit by
   itself once that process is gone, even if it was killed without a chance to stop its children.
13. **Customer search** (``GET /v1/customers/search?query=...``), answered as a ``search_result``:
   ``email:'...'``, ``name:'...'``, ``phone:'...'`` and ``metadata['key']:'...'`` clauses, exact matches,
   joined by ``AND`` or ``OR``, with ``limit`` and ``page``. Left out: ``~`` substrings, numeric and
   ``created`` comparisons, negation, ``null``, ``expand``, and Stripe's delay before a new customer is
   searchable (here at once). An unsupported query is a 400 ``invalid_request_error``. See
   ``devstack/stripe_emulator/customers.py``.
14. **Coupons and promotion codes** (``/v1/promotion_codes``, the current ``promotion.coupon`` shape) and the
   discounts they give (``discounts[]`` on subscriptions and Checkout Sessions). See ``promotions.py``.
15. **Trials, discounts on invoices, plan changes with proration, the invoice preview**
   (``trial_period_days``, ``trial_settings``, ``discounts``; ``items`` + ``proration_behavior`` on update;
   ``POST /v1/invoices/create_preview``; a trial's end on ``advance``). See ``billing_terms.py``.
16. **SetupIntents and saved cards**: a confirmed SetupIntent attaches its card to the customer (and to a trialing
   subscription), attach/detach events, the customer's default checked. See ``setup_intents.py``.
17. **Customer portal sessions** and a page playing the portal (cancel, switch plan). See ``portal.py``.
18. **Entitlements**: features, product features, active entitlements, and
   ``entitlements.active_entitlement_summary.updated`` after each change. See ``entitlements.py``.
19. **Subscription-mode Checkout Sessions**, completed into a subscription. See ``checkout_subscriptions.py``.
20. **Events and webhook endpoints as Stripe serves them** (``devstack/stripe_emulator/webhooks.py``): ``GET
   /v1/events`` newest first with ``types[]``, ``created[gt|gte|lt|lte]``, ``limit``, ``starting_after`` and
   ``ending_before``; ``/v1/webhook_endpoints`` (create with its signing secret, retrieve, update, delete, list),
   delivered to like localstripe's own registrations; test helpers to take an endpoint down for a while (its
   deliveries are lost, so the reconciler has something to recover), to list what an endpoint was sent, and to
   send an event again now (``POST /_test/events/{id}/resend``, answering what each endpoint answered).
21. **Connect** (``/v1/accounts``, ``/v1/account_links`` with a hosted onboarding page, the test helper
   ``POST /_test/accounts/{id}/onboard``): Express accounts that turn ``charges_enabled``/``payouts_enabled``
   when onboarding completes (``account.updated``); destination charges (``transfer_data``,
   ``application_fee_amount``) that make a Transfer and an ApplicationFee; refunds that reverse the transfer
   and refund the fee in proportion (``reverse_transfer``, ``refund_application_fee``). See
   ``devstack/stripe_emulator/connect.py``.
22. **Billing Meters** (``/v1/billing/meters``, ``/v1/billing/meter_events`` deduplicated by ``identifier``,
   event summaries) and their error reports on demand as thin events (``GET /v2/core/events/{id}``). See
   ``devstack/stripe_emulator/metering.py``.
23. **Deleting a customer** ends its subscriptions (``customer.subscription.deleted``) and detaches its payment
   methods. See ``devstack/stripe_emulator/deletion.py``.
24. **Three kinds of webhook endpoint**: ``POST /_config/webhooks/{id}`` also takes ``connect=true`` (connected
   accounts' events only, each with ``account``) and ``payload=thin`` (thin events only); the others get the
   platform's own events. In ``connect.py``.
Known limits: events say ``api_version: 2017-08-15``; webhook registrations survive a data wipe, and events are
delivered about 1 s late to whichever endpoints are registered *then* (so after a reset a test
may still receive an earlier test's events: match on object ids); Checkout has no
``line_items`` endpoint, no automatic expiry and no 3-D Secure; ``price_data`` creates no Price
or Product object.

Run it: ``python -m devstack.stripe_emulator --port 8420 [--host 127.0.0.1] [--parent-pid PID]``
(``--port 0``: any free port, reported in the ready line). In tests and scripts use
:class:`StripeEmulator`, which runs that command as a child process.
"""

from devstack.stripe_emulator.process import (
    StripeEmulator,
    advance_subscription,
    onboard_account,
    pay_invoice,
    received_meter_events,
    trigger_meter_error_report,
)

__all__ = ["StripeEmulator", "advance_subscription", "onboard_account", "pay_invoice", "received_meter_events",
           "trigger_meter_error_report"]
