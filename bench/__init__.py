"""`make bench`: performance figures as ratios against goals (issue #11); entry point `python -m bench.run`."""
