"""CIRR and CIRCO test-server submission files: writers and a validator (`python -m common.submission`)."""
from common.submission.validator import SubmissionError, validate_submission
from common.submission.writers import write_circo_submission, write_cirr_submission

__all__ = ["SubmissionError", "validate_submission", "write_cirr_submission",
           "write_circo_submission"]
