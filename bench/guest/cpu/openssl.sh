# OpenSSL: SHA-256 and AES-128-CBC over the corpus four times; prints the digests.
for i in 1 2 3 4; do cat /tmp/corpus; done > c4
/usr/bin/openssl dgst -sha256 -r c4 | cut -c1-16
/usr/bin/openssl enc -aes-128-cbc -K 000102030405060708090a0b0c0d0e0f -iv 0f0e0d0c0b0a09080706050403020100 \
  -in c4 | /usr/bin/openssl dgst -sha512 -r | cut -c1-16
