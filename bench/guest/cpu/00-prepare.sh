# The corpus every compressor reads: Python's own library sources (fixed by the package
# version), 4 MiB of real text.
cat /usr/lib/python3.13/*.py /usr/lib/python3.13/*/*.py | head -c 4194304 > /tmp/corpus
