/*
 * isa.h — the ISA extensions a hart offers beyond RV64IMAFDC: their names,
 * which are on by default, the `--cpu-ext` spec that switches them, and the
 * ISA description the device tree carries (the `riscv,isa` string and the
 * `riscv,isa-extensions` list), so firmware and kernel see what the hart runs.
 */
#ifndef CLOISON_RV_ISA_H
#define CLOISON_RV_ISA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Every extension, in the canonical order of ISA strings (Z extensions by their category letter in
 * IMAFDQLCBKJTPVH order, then alphabetically; S extensions last), each X(NAME, "name", FLAGS):
 * RV_EXT_FIXED ones are always on (the engine has no way to run without them), RV_EXT_DEFAULT ones
 * are on unless switched off.
 */
#define RV_EXT_FIXED 1u
#define RV_EXT_DEFAULT 2u
#define RV_EXT_LETTER 4u /* a single-letter extension: after "c" in the ISA string */
#define RV_EXTENSIONS(X)                                                                                     \
	X(V, "v", RV_EXT_LETTER | RV_EXT_DEFAULT)                                                            \
	X(H, "h", RV_EXT_LETTER | RV_EXT_DEFAULT)                                                            \
	X(ZICBOM, "zicbom", RV_EXT_DEFAULT)                                                                  \
	X(ZICBOP, "zicbop", RV_EXT_DEFAULT)                                                                  \
	X(ZICBOZ, "zicboz", RV_EXT_DEFAULT)                                                                  \
	X(ZICNTR, "zicntr", RV_EXT_FIXED)                                                                    \
	X(ZICOND, "zicond", RV_EXT_DEFAULT)                                                                  \
	X(ZICSR, "zicsr", RV_EXT_FIXED)                                                                      \
	X(ZIFENCEI, "zifencei", RV_EXT_FIXED)                                                                \
	X(ZIHINTNTL, "zihintntl", RV_EXT_FIXED)                                                              \
	X(ZIHINTPAUSE, "zihintpause", RV_EXT_FIXED)                                                          \
	X(ZIHPM, "zihpm", RV_EXT_DEFAULT)                                                                    \
	X(ZIMOP, "zimop", RV_EXT_DEFAULT)                                                                    \
	X(ZAWRS, "zawrs", RV_EXT_DEFAULT)                                                                    \
	X(ZFA, "zfa", RV_EXT_DEFAULT)                                                                        \
	X(ZFH, "zfh", RV_EXT_DEFAULT)                                                                        \
	X(ZFHMIN, "zfhmin", RV_EXT_DEFAULT)                                                                  \
	X(ZCA, "zca", RV_EXT_FIXED)                                                                          \
	X(ZCB, "zcb", RV_EXT_DEFAULT)                                                                        \
	X(ZCD, "zcd", RV_EXT_FIXED)                                                                          \
	X(ZCMOP, "zcmop", RV_EXT_DEFAULT)                                                                    \
	X(ZBA, "zba", RV_EXT_DEFAULT)                                                                        \
	X(ZBB, "zbb", RV_EXT_DEFAULT)                                                                        \
	X(ZBC, "zbc", RV_EXT_DEFAULT)                                                                        \
	X(ZBS, "zbs", RV_EXT_DEFAULT)                                                                        \
	X(ZKT, "zkt", RV_EXT_FIXED)                                                                          \
	X(ZVBB, "zvbb", RV_EXT_DEFAULT)                                                                      \
	X(ZVFHMIN, "zvfhmin", RV_EXT_DEFAULT)                                                                \
	X(ZVKT, "zvkt", RV_EXT_DEFAULT)                                                                      \
	X(SDTRIG, "sdtrig", RV_EXT_DEFAULT)                                                                  \
	X(SSCOFPMF, "sscofpmf", RV_EXT_DEFAULT)                                                              \
	X(SSTC, "sstc", RV_EXT_DEFAULT)                                                                      \
	X(SSU64XL, "ssu64xl", RV_EXT_FIXED)                                                                  \
	X(SVADU, "svadu", RV_EXT_DEFAULT)                                                                    \
	X(SVINVAL, "svinval", RV_EXT_DEFAULT)                                                                \
	X(SVNAPOT, "svnapot", RV_EXT_DEFAULT)                                                                \
	X(SVPBMT, "svpbmt", RV_EXT_DEFAULT)

enum rv_ext {
#define X(NAME, name, flags) RV_EXT_##NAME,
	RV_EXTENSIONS(X)
#undef X
	    RV_EXT_COUNT
};
/* The top bits of a set hold V's VLEN: 128 << the field (128 to 1024 bits). */
#define RV_EXT_VLEN_SHIFT 60
_Static_assert(RV_EXT_COUNT <= RV_EXT_VLEN_SHIFT, "an extension set is one 64-bit word, with VLEN on top");

/* Whether set `s` (a uint64_t, one bit per enum rv_ext) holds extension NAME. */
#define RV_HAS(s, NAME) ((((s) >> RV_EXT_##NAME) & 1) != 0)

/* VLEN, in bits, of a set. */
static inline unsigned rv_ext_vlen(uint64_t set)
{
	return 128u << ((set >> RV_EXT_VLEN_SHIFT) & 3);
}

/* The size of the cache block the Zicbo* instructions work on (the device tree says so too). */
#define RV_CACHE_BLOCK 64

/* The extensions a hart offers when nothing is switched: fixed and default ones. */
uint64_t rv_ext_defaults(void);

/*
 * Applies a `--cpu-ext` spec to `set`: a comma-separated list of names, each `-NAME` to switch it
 * off or `NAME` / `+NAME` to switch it on, and `vlen=N` (128, 256, 512 or 1024) for V's register
 * length, e.g. "-zbb,-sstc,vlen=256". An empty spec changes nothing. False with err set for an
 * unknown name, a fixed extension switched off or another VLEN.
 */
bool rv_ext_apply(uint64_t *set, const char *spec, char *err, size_t errlen);

/* The set of the extensions `has` says a hart offers, asked by name ("v", "zba", ...); the fixed
 * ones count as offered only if `has` says so too. VLEN is left at 128. */
uint64_t rv_ext_from(bool (*has)(const char *name, void *opaque), void *opaque);

/* The names of `set`, in canonical order, after the single-letter ones (i m a f d c): up to `max`
 * pointers to static strings. Returns how many there are (may exceed max). */
unsigned rv_ext_names(uint64_t set, const char **names, unsigned max);

/* The ISA string of `set` ("rv64imafdc_zicbom_..."). False if it does not fit. */
bool rv_isa_string(uint64_t set, char *buf, size_t len);

#endif
