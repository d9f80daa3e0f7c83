# MP3 encoding with LAME (floating point throughout: psychoacoustic model, MDCT, quantization) of
# 6 s of 16-bit stereo PCM made of the corpus's first MiB, at quality 2.
head -c 1048576 /tmp/corpus > pcm
/usr/bin/python3.13 -S -c "
import struct, sys
d = open('pcm', 'rb').read()
sys.stdout.buffer.write(b'RIFF' + struct.pack('<I', 36 + len(d)) + b'WAVEfmt ' +
                        struct.pack('<IHHIIHH', 16, 1, 2, 44100, 176400, 4, 16) + b'data' +
                        struct.pack('<I', len(d)) + d)" > in.wav
/usr/bin/lame --quiet -q 2 in.wav out.mp3 && sha256sum < out.mp3 | cut -c1-16
