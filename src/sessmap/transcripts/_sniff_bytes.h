/* Byte matching on one line for _sniff.c: bytes.find and friends, and the small matchers the
 * regular expressions of sniff.py come down to (each names the one it mirrors). */
#ifndef SNIFF_BYTES_H
#define SNIFF_BYTES_H

#include <Python.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define MAX_DIGITS 15

typedef const unsigned char *Bytes;

typedef struct {
    Bytes s;
    Py_ssize_t n;
} Line;

static Py_ssize_t find(Line l, const char *needle, Py_ssize_t from, Py_ssize_t to) {
    Py_ssize_t len = (Py_ssize_t)strlen(needle);
    if (to > l.n) to = l.n;
    if (from < 0) from = 0;
    if (to - from < len) return -1;
    const void *hit = memmem(l.s + from, (size_t)(to - from), needle, (size_t)len);
    return hit ? (Bytes)hit - l.s : -1;
}

static Py_ssize_t find_byte(Line l, unsigned char byte, Py_ssize_t from, Py_ssize_t to) {
    if (to > l.n) to = l.n;
    if (from < 0) from = 0;
    if (from >= to) return -1;
    const void *hit = memchr(l.s + from, byte, (size_t)(to - from));
    return hit ? (Bytes)hit - l.s : -1;
}

static int starts(Line l, Py_ssize_t at, const char *literal) {
    Py_ssize_t len = (Py_ssize_t)strlen(literal);
    return at >= 0 && at + len <= l.n && memcmp(l.s + at, literal, (size_t)len) == 0;
}

/* starts, then *at moves past the literal. */
static int take(Line l, Py_ssize_t *at, const char *literal) {
    if (!starts(l, *at, literal)) return 0;
    *at += (Py_ssize_t)strlen(literal);
    return 1;
}

static int ends_with_brace(Line l) { return l.n > 0 && l.s[l.n - 1] == '}'; }

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* sniff._NOT_PLAIN: the first byte of a text the fast path leaves to the parser. */
static int not_plain(unsigned char c) {
    return c == '"' || c == '<' || c == '#' || c == '\\' || c <= 32 || c >= 128;
}

/* [^"\\]* from at: the index of the first quote or backslash (or n). */
static Py_ssize_t plain_run(Line l, Py_ssize_t at) {
    while (at < l.n && l.s[at] != '"' && l.s[at] != '\\') at++;
    return at;
}

/* \d+ from *at into *value: 0 when absent or over MAX_DIGITS. */
static int digits(Line l, Py_ssize_t *at, long long *value) {
    Py_ssize_t i = *at;
    long long total = 0;
    while (i < l.n && is_digit(l.s[i])) {
        if (i - *at >= MAX_DIGITS) return 0;
        total = total * 10 + (l.s[i] - '0');
        i++;
    }
    if (i == *at) return 0;
    *at = i;
    *value = total;
    return 1;
}

/* sniff._string_end: the quote ending the string whose text starts at at; -1 if unsure. */
static Py_ssize_t string_end(Line l, Py_ssize_t at) {
    Py_ssize_t end = find_byte(l, '"', at, l.n);
    while (end > 0 && l.s[end - 1] == '\\') {
        Py_ssize_t run = end - 1;
        while (run > 0 && l.s[run - 1] == '\\') run--;
        if (run == 0) return -1;
        if ((end - run) % 2 == 0) return end;
        end = find_byte(l, '"', end + 1, l.n);
    }
    return end;
}

/* sniff._SCALAR matched at at: the index after it, or -1. */
static Py_ssize_t scalar_end(Line l, Py_ssize_t at) {
    Py_ssize_t i = at;
    if (i < l.n && l.s[i] == '-') i++;
    if (i < l.n && is_digit(l.s[i])) {
        while (i < l.n && is_digit(l.s[i])) i++;
        if (i + 1 < l.n && l.s[i] == '.' && is_digit(l.s[i + 1])) {
            i += 2;
            while (i < l.n && is_digit(l.s[i])) i++;
        }
        if (i < l.n && (l.s[i] == 'e' || l.s[i] == 'E')) {
            Py_ssize_t e = i + 1;
            if (e < l.n && (l.s[e] == '+' || l.s[e] == '-')) e++;
            if (e < l.n && is_digit(l.s[e])) {
                while (e < l.n && is_digit(l.s[e])) e++;
                i = e;
            }
        }
        return i;
    }
    if (starts(l, at, "true") || starts(l, at, "null")) return at + 4;
    if (starts(l, at, "false")) return at + 5;
    return -1;
}

/* sniff._members_end: at a key (or the '}') of a compact object; the index after it, or -1. */
static Py_ssize_t members_end(Line l, Py_ssize_t at, int depth) {
    if (at >= l.n) return -1;
    if (l.s[at] == '}') return at + 1;
    while (depth < 8 && at < l.n && l.s[at] == '"') {
        Py_ssize_t key = find_byte(l, '"', at + 1, l.n);
        if (key < 0 || key + 1 >= l.n || l.s[key + 1] != ':' || find_byte(l, '\\', at, key) >= 0)
            return -1;
        Py_ssize_t value = key + 2;
        if (value >= l.n) return -1;
        unsigned char first = l.s[value];
        if (first == '"') {
            Py_ssize_t close = string_end(l, value + 1);
            at = close < 0 ? -1 : close + 1;
        } else if (first == '{') {
            at = members_end(l, value + 1, depth + 1);
        } else {
            at = scalar_end(l, value);
        }
        if (at <= 0 || at >= l.n) return -1;
        if (l.s[at] == '}') return at + 1;
        if (l.s[at] != ',') return -1;
        at++;
    }
    return -1;
}

static int is_name(unsigned char c) { return (c >= 'a' && c <= 'z') || c == '_'; }

/* [a-z_]+ then a quote, from *at: the name's span. */
static int name_run(Line l, Py_ssize_t *at, Py_ssize_t span[2]) {
    Py_ssize_t i = span[0] = *at;
    while (i < l.n && is_name(l.s[i])) i++;
    span[1] = i;
    if (i == span[0] || i >= l.n || l.s[i] != '"') return 0;
    *at = i + 1;
    return 1;
}

/* Which keys occur in l[from:to] (as bytes.find of each would say: every quote is looked at,
 * as structure or not), from one pass; types counts "type" overlapping, so 1 means exactly 1. */
enum { K_TYPE = 1, K_MESSAGE = 2, K_COST = 4, K_META = 8, K_COMPACT = 16 };

typedef struct {
    int found;
    int types;
    Py_ssize_t first_type;
} Keys;

static int key_at(Line l, Py_ssize_t at, Py_ssize_t to, const char *key) {
    Py_ssize_t len = (Py_ssize_t)strlen(key);
    return at + len <= to && memcmp(l.s + at, key, (size_t)len) == 0;
}

static void key_here(Line l, Py_ssize_t i, Py_ssize_t to, Keys *k) {
    switch (l.s[i + 1]) {
    case 't':
        if (key_at(l, i, to, "\"type\"")) {
            k->found |= K_TYPE;
            if (k->types++ == 0) k->first_type = i;
        }
        break;
    case 'm':
        if (key_at(l, i, to, "\"message\"")) k->found |= K_MESSAGE;
        break;
    case 'c':
        if (key_at(l, i, to, "\"costUSD\"")) k->found |= K_COST;
        break;
    case 'i':
        if (key_at(l, i, to, "\"isMeta\"")) k->found |= K_META;
        if (key_at(l, i, to, "\"isCompactSummary\"")) k->found |= K_COMPACT;
        break;
    }
}

/* Every quote in l[from:to - 1) goes to key_here: sixteen bytes at a time where SSE2 is (the
 * regions are JSON keys and short values, a quote every few bytes: one memchr each costs more). */
static Keys keys_in(Line l, Py_ssize_t from, Py_ssize_t to) {
    Keys k = {0, 0, -1};
    if (to > l.n) to = l.n;
    Py_ssize_t i = from < 0 ? 0 : from;
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"');
    for (; i + 16 < to; i += 16) {
        __m128i block = _mm_loadu_si128((const __m128i *)(l.s + i));
        unsigned mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(block, quote));
        while (mask) {
            key_here(l, i + __builtin_ctz(mask), to, &k);
            mask &= mask - 1;
        }
    }
#endif
    for (; i + 1 < to; i++)
        if (l.s[i] == '"') key_here(l, i, to, &k);
    return k;
}

#endif
