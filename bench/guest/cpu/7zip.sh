# 7-Zip LZMA2 -mx5, one thread, then extraction; prints the round trip's checksum.
rm -f c.7z
/usr/lib/7zip/7z a -bd -mx5 -mmt1 c.7z /tmp/corpus > /dev/null &&
  /usr/lib/7zip/7z x -bd -so c.7z | sha256sum | cut -c1-16
