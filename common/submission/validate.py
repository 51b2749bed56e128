"""`python -m common.submission.validate FILE --kind cirr|cirr_subset|circo [--annotations FILE]` (the core API's name)."""
import sys

from common.submission.validator import main

if __name__ == "__main__":
    sys.exit(main())
