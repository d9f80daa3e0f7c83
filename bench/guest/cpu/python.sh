# A fixed pure-Python workload (work.py); prints its result.
/usr/bin/python3.13 -S /bench/work.py
