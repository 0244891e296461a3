"""Benchmarks for Mediate: the gateway measured from outside, against in-run baselines.

Run by hand or with ``make bench`` / ``make bench-quick``; never by the test suite. Everything
talks over loopback (127.0.0.1) only, and every loop is bounded in count and in time.
"""
