"""`python -m common.submission FILE --kind cirr|cirr_subset|circo [--annotations FILE]`."""
import sys

from common.submission.validator import main

sys.exit(main())
