# xz -6 (8 MiB dictionary), one thread; prints the compressed stream's checksum.
/usr/bin/xz -6 -T1 -c /tmp/corpus > corpus.xz && sha256sum < corpus.xz | cut -c1-16
