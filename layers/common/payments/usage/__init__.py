"""Usage-based billing: reporting usage as Billing Meter events (``api``), and the meters' error reports
(``errors``)."""
