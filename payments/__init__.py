"""Payment provider adapters: EasyPay's merchant API, its signed callback, a local fake.

`easypay` implements core's `PaymentProvider` port and the protocol helpers (signing,
parsing notifications); `callback` is the `POST /payments/easypay` route that settles an
order once and tells the consumer; `fake_easypay` is a local EasyPay for tests and the demo.
"""
