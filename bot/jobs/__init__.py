"""The scheduled jobs: the nag sweep (nag), the weekly digest (digest), and their schedule
(schedule: claims, catch-up, and the functions `cxbot jobs run` calls)."""
