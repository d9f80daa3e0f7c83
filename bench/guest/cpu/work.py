# Pure-Python work: integers, strings, dicts, lists, classes, recursion. Prints a checksum.
import hashlib
class Vec:
    __slots__ = ("x", "y")
    def __init__(self, x, y):
        self.x, self.y = x, y
    def add(self, o):
        return Vec(self.x + o.x, self.y + o.y)
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
acc = fib(22)
words = {}
for i in range(60000):
    w = format(i * 2654435761 % 1000003, "x")
    words[w] = words.get(w, 0) + len(w)
acc += sum(sorted(words.values())[::7])
v = Vec(0, 0)
for i in range(60000):
    v = v.add(Vec(i % 7, i % 11))
acc += v.x * 31 + v.y
primes = [p for p in range(2, 30000) if all(p % d for d in range(2, int(p ** 0.5) + 1))]
acc += len(primes)
print(hashlib.sha256(str(acc).encode()).hexdigest()[:16])
