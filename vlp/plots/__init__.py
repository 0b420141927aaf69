"""Pictures drawn with matplotlib (headless: the Agg backend, PNG files): attention maps and training curves."""

import matplotlib

matplotlib.use("Agg")
