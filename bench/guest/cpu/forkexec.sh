# fork+exec: 1000 runs of an external program.
i=0; while [ $i -lt 1000 ]; do /bin/busybox true; i=$((i + 1)); done; echo $i
