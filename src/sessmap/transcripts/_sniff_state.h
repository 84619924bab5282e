/* The summary's state for _sniff.c, as summary._Builder and summary.TokenTotals keep it: an
 * int64 array laid out as native_sniff.STATE, and what one line does to it (Effect). */
#ifndef SNIFF_STATE_H
#define SNIFF_STATE_H

#include "_sniff_bytes.h"

enum {
    REPLIES, TOOL_CALLS, PROMPTS, IN_REPLY, HAS_FIRST, SEEN,
    SUMS, HAS_PENDING = SUMS + 4, PENDING, HAS_PREVIOUS = PENDING + 4, PREVIOUS,
    STATE_SIZE = PREVIOUS + 4
};

#define LIMIT (((long long)1) << 62)

typedef struct {
    long long *v;
    Bytes group;          /* the open response's id, or NULL */
    Py_ssize_t group_len;
    int claude;
} State;

/* What one line does to the summary, worked out before anything changes. */
typedef enum { NOTHING, REPLY, TOOL_CALL, TURN_BREAK, PROMPT, RESPONSE, RUNNING } Kind;

typedef struct {
    Kind kind;
    int reply, tool_call; /* of a RESPONSE line */
    long long counts[4];  /* input (cached included), output, cache read, cache write */
    Bytes group;
    Py_ssize_t group_len;
} Effect;

static int in_range(long long value) { return value > -LIMIT && value < LIMIT; }

/* Whether sum + add stays in range; both are checked first, so the addition cannot overflow
 * (the state comes from Python, whose ints may hold anything up to int64). */
static int fits(long long sum, long long add) { return in_range(sum) && in_range(add) && in_range(sum + add); }

/* Whether adding counts keeps every sum in range. */
static int sums_fit(const long long *v, const long long counts[4]) {
    for (int k = 0; k < 4; k++)
        if (!fits(v[SUMS + k], counts[k])) return 0;
    return 1;
}

static void plus(long long *v, const long long counts[4]) {
    for (int k = 0; k < 4; k++) v[SUMS + k] += counts[k];
}

/* TokenTotals.close_group, after the caller checked the pending counts fit. */
static void close_group(State *st) {
    long long *v = st->v;
    if (v[HAS_PENDING]) plus(v, v + PENDING);
    v[HAS_PENDING] = 0;
    st->group = NULL;
    st->group_len = 0;
}

static int same_group(const State *st, const Effect *e) {
    return st->v[HAS_PENDING] && st->group != NULL && st->group_len == e->group_len &&
           memcmp(st->group, e->group, (size_t)e->group_len) == 0;
}

/* The running total's rise since the previous one (TokenTotals.add_running); 0 when the
 * previous total is out of range (Python takes the line). */
static int rise(const long long *v, const long long counts[4], long long out[4]) {
    for (int k = 0; k < 4; k++)
        if (v[HAS_PREVIOUS] && !in_range(v[PREVIOUS + k])) return 0;
    int fresh = !v[HAS_PREVIOUS] || counts[0] < v[PREVIOUS];
    for (int k = 0; k < 4; k++) out[k] = fresh ? counts[k] : counts[k] - v[PREVIOUS + k];
    return 1;
}

/* Apply e; 0 (nothing changed) when a sum could leave int64: Python takes that line. */
static int apply(State *st, const Effect *e) {
    long long *v = st->v;
    if (!in_range(v[REPLIES]) || !in_range(v[TOOL_CALLS]) || !in_range(v[PROMPTS])) return 0;
    int closes = e->kind == TURN_BREAK || e->kind == PROMPT || (e->kind == RESPONSE && !same_group(st, e));
    if (closes && v[HAS_PENDING] && !sums_fit(v, v + PENDING)) return 0;
    if (e->kind == RUNNING) {
        long long added[4];
        if (!rise(v, e->counts, added) || !sums_fit(v, added)) return 0;
        v[SEEN] = 1;
        plus(v, added);
        v[HAS_PREVIOUS] = 1;
        memcpy(v + PREVIOUS, e->counts, sizeof e->counts);
        return 1;
    }
    if (e->kind == REPLY || (e->kind == RESPONSE && e->reply)) {
        if (!v[IN_REPLY]) {
            v[REPLIES]++;
            v[IN_REPLY] = st->claude;
        }
    }
    if (e->kind == TOOL_CALL || (e->kind == RESPONSE && e->tool_call)) v[TOOL_CALLS]++;
    if (e->kind == PROMPT) v[PROMPTS]++;
    if (e->kind == TURN_BREAK || e->kind == PROMPT) {
        close_group(st);
        v[IN_REPLY] = 0;
    }
    if (e->kind == RESPONSE) {
        v[SEEN] = 1;
        if (!same_group(st, e)) {
            close_group(st);
            st->group = e->group;
            st->group_len = e->group_len;
            v[HAS_PENDING] = 1;
        }
        memcpy(v + PENDING, e->counts, sizeof e->counts);
    }
    return 1;
}

#endif
