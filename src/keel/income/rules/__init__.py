"""The income domain's rules: pure functions and dataclasses, no Django.

* ``analytics`` — how much, from where and how steady: monthly series, coefficient of
  variation, spikes and dips, source concentration, coverage, runway, savings rate, trend.
* ``forecast`` — the next 90 days from known schedules plus a simulation fitted to the
  worker's own history; scheduled items matched by actual payments are consumed.
* ``smoothing`` — the steady salary paid from a buffer, the buffer target, when it runs dry.
* ``tax`` — the tax set-aside, US self-employment tax, quarterly due dates, safe harbor.
* ``dates`` — month arithmetic and the US federal (and DC) holiday calendar.

Money is always an ``int`` of minor units of one currency per series; the caller converts
to the worker's home currency first. Ratios and probabilities are floats; amounts never are.
Only ``forecast`` needs numpy, so importing this package (or ``analytics``) stays cheap.
"""
