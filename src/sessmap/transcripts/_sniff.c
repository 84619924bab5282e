/* sessmap.transcripts._sniff: sniff.py's fast path for claude and codex lines, in C.
 *
 * It takes a line only where sniff.py's fast path would take it, with the same effect on the
 * summary; any line it is not sure of (another shape, a non-ASCII byte in a span not known to
 * be UTF-8, a number of more than 15 digits, a sum near the int64 limit, the first prompt) is
 * handed back to Python, which runs sniff.py on it or parses it whole. So the result is always
 * sniff.py's, which tests/transcripts check against parsing every line; this only removes the
 * per-line cost of the Python loop. Each rule below names the sniff.py function it mirrors.
 *
 * scan(claude, data, at, end, utf8, state, group) reads the lines of data[at:end] (split at
 * '\n') and returns (next, taken, stop, prompt_start, prompt_end, group):
 *   next, stop   the line data[next:stop] it handed back; stop is -1 when it took them all;
 *   taken        how many lines it took;
 *   prompt_*     the last prompt line it took (its text is read only if it is the last), or -1;
 *   group        the open response's message id (bytes), or None.
 * state is a writable int64 buffer laid out as native_sniff.STATE.
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE
#include <Python.h>

#include "_sniff_bytes.h"
#include "_sniff_state.h"

#ifndef SNIFF_SOURCE /* the SHA-256 of the _sniff sources, set by hatch_build.py */
#define SNIFF_SOURCE ""
#endif

/* --- claude -------------------------------------------------------------------------------- */

static const char *const QUIET[] = {
    "queue-operation", "last-prompt", "mode", "file-history-snapshot", "progress", "api-request",
    "api-request-blob", "api-request-shape", "atis-latch", "tools-used", NULL,
};

/* sniff._CLAUDE_QUIET_HEADS */
static int quiet_head(Line l) {
    Py_ssize_t name = 0;
    if (!take(l, &name, "{\"type\":\"")) return 0;
    for (const char *const *quiet = QUIET; *quiet; quiet++) {
        Py_ssize_t at = name;
        if (take(l, &at, *quiet) && take(l, &at, "\"")) return 1;
    }
    return 0;
}

/* sniff._tail_is_quiet */
static int tail_is_quiet(Line l, Py_ssize_t tail) {
    return ends_with_brace(l) && !(keys_in(l, tail, l.n).found & (K_TYPE | K_MESSAGE));
}

/* sniff._claude_user (at: the "message" key; body: its value) */
static int claude_user(Line l, Py_ssize_t body, Keys before, State *st, Effect *e) {
    static const char USER_MESSAGE[] = "{\"role\":\"user\",\"content\":";
    if (!starts(l, body, USER_MESSAGE)) return 0;
    Py_ssize_t content = body + (Py_ssize_t)strlen(USER_MESSAGE);
    if (content >= l.n) return 0;
    if (l.s[content] == '"') {
        Py_ssize_t text = content + 1;
        Py_ssize_t end = string_end(l, text);
        if (end < 0 || !starts(l, end, "\"}") || text >= l.n || not_plain(l.s[text])) return 0;
        Py_ssize_t tail = end + 2;
        int marks = K_META | K_COMPACT;
        if ((before.found & marks) || (keys_in(l, tail, l.n).found & marks)) return 0;
        if (!tail_is_quiet(l, tail) || !st->v[HAS_FIRST]) return 0; /* the first prompt: Python */
        e->kind = PROMPT;
        return 1;
    }
    /* sniff._RESULT, then sniff._RESULT_END after the result's text */
    Py_ssize_t i = content;
    if (!take(l, &i, "[{\"tool_use_id\":\"")) return 0;
    i = plain_run(l, i);
    if (!take(l, &i, "\",\"type\":\"tool_result\",\"content\":\"")) return 0;
    Py_ssize_t close = string_end(l, i);
    if (close < 0) return 0;
    i = close + 1;
    if (!take(l, &i, ",\"is_error\":true")) take(l, &i, ",\"is_error\":false");
    if (!take(l, &i, "}]}") || !tail_is_quiet(l, i)) return 0;
    e->kind = TURN_BREAK;
    return 1;
}

/* sniff._USAGE matched at at, into the counts as sniff._usage_at gives them. */
static int claude_usage(Line l, Py_ssize_t at, long long counts[4]) {
    long long fresh, write, read, output;
    Py_ssize_t i = at;
    if (!take(l, &i, "{\"input_tokens\":") || !digits(l, &i, &fresh) ||
        !take(l, &i, ",\"cache_creation_input_tokens\":") || !digits(l, &i, &write) ||
        !take(l, &i, ",\"cache_read_input_tokens\":") || !digits(l, &i, &read) ||
        !take(l, &i, ",\"output_tokens\":"))
        return 0;
    if (!digits(l, &i, &output) || i >= l.n || (l.s[i] != ',' && l.s[i] != '}')) return 0;
    counts[0] = fresh + read + write;
    counts[1] = output;
    counts[2] = read;
    counts[3] = write;
    return 1;
}

/* sniff._assistant_tail */
static int assistant_tail(Line l, Py_ssize_t usage) {
    Keys k = keys_in(l, usage, l.n);
    Py_ssize_t kind = k.first_type;
    return k.types == 1 && starts(l, kind, "\"type\":\"assistant\"") && ends_with_brace(l) &&
           find_byte(l, '}', kind, l.n - 1) < 0 && !(k.found & (K_MESSAGE | K_COST));
}

/* (?:"model":"[^"\\]*",)? from *at: 0 when it starts but does not end so (no match then). */
static int optional_model(Line l, Py_ssize_t *at) {
    Py_ssize_t i = *at;
    if (!take(l, &i, "\"model\":\"")) return 1;
    i = plain_run(l, i);
    if (!take(l, &i, "\",")) return 0;
    *at = i;
    return 1;
}

/* sniff._ASSISTANT matched at body: the id's span and the first block's kind; the end, or -1. */
static Py_ssize_t assistant_head(Line l, Py_ssize_t body, Py_ssize_t id[2], Py_ssize_t kind[2]) {
    Py_ssize_t i = body;
    if (!take(l, &i, "{") || !optional_model(l, &i) || !take(l, &i, "\"id\":\"")) return -1;
    id[0] = i;
    i = id[1] = plain_run(l, i);
    if (!take(l, &i, "\",\"type\":\"message\",\"role\":\"assistant\",") || !optional_model(l, &i) ||
        !take(l, &i, "\"content\":[{\"type\":\"") || !name_run(l, &i, kind) || !take(l, &i, ","))
        return -1;
    return i;
}

static int kind_is(Line l, const Py_ssize_t kind[2], const char *name) {
    Py_ssize_t len = (Py_ssize_t)strlen(name);
    return kind[1] - kind[0] == len && memcmp(l.s + kind[0], name, (size_t)len) == 0;
}

/* The message's own "usage":{ in the 512 bytes from after, with no brace before it; or -1. */
static Py_ssize_t usage_key(Line l, Py_ssize_t after) {
    Py_ssize_t to = after + 512 < l.n ? after + 512 : l.n;
    for (Py_ssize_t i = after; i < to; i++) {
        if (l.s[i] == '"' && key_at(l, i, to, "\"usage\":{")) return i;
        if (l.s[i] == '{' || l.s[i] == '}') return -1;
    }
    return -1;
}

/* sniff._claude_assistant */
static int claude_assistant(Line l, Py_ssize_t body, Effect *e) {
    Py_ssize_t id[2], kind[2], after;
    Py_ssize_t at = assistant_head(l, body, id, kind);
    if (at < 0) return 0;
    int text = kind_is(l, kind, "text");
    int tool = kind_is(l, kind, "tool_use") || kind_is(l, kind, "server_tool_use");
    if (text) {
        Py_ssize_t start = at + 8;
        if (!starts(l, at, "\"text\":\"") || start >= l.n || not_plain(l.s[start])) return 0;
        Py_ssize_t end = string_end(l, start);
        after = end >= 0 && starts(l, end, "\"}],") ? end + 4 : -1;
    } else if (tool || kind_is(l, kind, "thinking") || kind_is(l, kind, "redacted_thinking")) {
        Py_ssize_t end = members_end(l, at, 0);
        after = end >= 0 && starts(l, end, "],") ? end + 2 : -1;
    } else {
        return 0;
    }
    if (after < 0) return 0;
    Py_ssize_t usage = usage_key(l, after);
    if (usage < 0) return 0;
    if (!assistant_tail(l, usage) || !claude_usage(l, usage + 8, e->counts)) return 0;
    e->kind = RESPONSE;
    e->reply = text;
    e->tool_call = tool;
    e->group = l.s + id[0];
    e->group_len = id[1] - id[0];
    return 1;
}

/* sniff._claude_bookkeeping */
static int claude_bookkeeping(Line l) {
    static const char ATTACHMENT[] = "\"type\":\"attachment\"";
    Py_ssize_t len = (Py_ssize_t)strlen(ATTACHMENT);
    if (l.n <= 2048 || !ends_with_brace(l)) return 0;
    Py_ssize_t kind = -1;
    for (Py_ssize_t i = l.n - len; i >= l.n - 600; i--) {
        if (memcmp(l.s + i, ATTACHMENT, (size_t)len) == 0) {
            kind = i;
            break;
        }
    }
    return kind > 0 && find_byte(l, '}', kind, l.n - 1) < 0 && !(keys_in(l, kind + 6, l.n).found & K_TYPE);
}

/* sniff._claude_fast */
static int claude_line(Line l, State *st, Effect *e) {
    if (quiet_head(l)) return 1;
    Py_ssize_t at = -1, head = l.n < 1024 ? l.n : 1024;
    int brace = 0;
    for (Py_ssize_t i = 0; i < head && at < 0; i++) {
        if (l.s[i] == '"' && key_at(l, i, head, "\"message\":")) at = i;
        else if (l.s[i] == '{' && i >= 1) brace = 1;
    }
    if (at < 0) return claude_bookkeeping(l);
    if (at == 0 || l.s[at - 1] != ',' || brace) return 0;
    Keys before = keys_in(l, 0, at);
    Py_ssize_t body = at + 10;
    if (at > 15 && starts(l, at - 14, "\"type\":\"user\",")) {
        unsigned char mark = l.s[at - 15];
        return (mark == ',' || mark == '{') && claude_user(l, body, before, st, e);
    }
    if (before.found & (K_TYPE | K_COST)) return 0;
    return claude_assistant(l, body, e);
}

/* --- codex --------------------------------------------------------------------------------- */

/* sniff._CODEX_TOTAL matched at at: the running total's counts. */
static int codex_total(Line l, Py_ssize_t at, long long counts[4]) {
    long long fresh, cached, write = 0, output;
    Py_ssize_t i = at;
    if (!take(l, &i, ",\"info\":{\"total_token_usage\":{\"input_tokens\":") || !digits(l, &i, &fresh) ||
        !take(l, &i, ",\"cached_input_tokens\":") || !digits(l, &i, &cached) || !take(l, &i, ","))
        return 0;
    if (take(l, &i, "\"cache_write_input_tokens\":") && (!digits(l, &i, &write) || !take(l, &i, ",")))
        return 0;
    if (!take(l, &i, "\"output_tokens\":")) return 0;
    if (!digits(l, &i, &output) || i >= l.n || (l.s[i] != ',' && l.s[i] != '}')) return 0;
    counts[0] = fresh;
    counts[1] = output;
    counts[2] = cached;
    counts[3] = write;
    return 1;
}

/* sniff._codex_message */
static int codex_message(Line l, State *st, Effect *e) {
    static const char PROMPT_HEAD[] = "\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"";
    static const char REPLY_HEAD[] =
        "\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"";
    Py_ssize_t near = l.n < 400 ? l.n : 400;
    Py_ssize_t at = find(l, PROMPT_HEAD, 0, near);
    if (at >= 0) {
        Py_ssize_t text = at + (Py_ssize_t)strlen(PROMPT_HEAD);
        if (text >= l.n || not_plain(l.s[text]) || !st->v[HAS_FIRST]) return 0;
        e->kind = PROMPT;
        return 1;
    }
    at = find(l, REPLY_HEAD, 0, near);
    Py_ssize_t text = at + (Py_ssize_t)strlen(REPLY_HEAD);
    if (at < 0 || text >= l.n || not_plain(l.s[text])) return 0;
    e->kind = REPLY;
    return 1;
}

/* sniff._codex_span */
static int codex_line(Line l, State *st, Effect *e) {
    Py_ssize_t kind[2], inner[2];
    Py_ssize_t i = 0;
    long long ordinal;
    if (!take(l, &i, "{\"timestamp\":\"")) return 0;
    i = plain_run(l, i);
    if (!take(l, &i, "\",")) return 0;
    if (take(l, &i, "\"ordinal\":") && (!digits(l, &i, &ordinal) || !take(l, &i, ","))) return 0;
    if (!take(l, &i, "\"type\":\"") || !name_run(l, &i, kind) || !take(l, &i, ",\"payload\":{\"type\":\"") ||
        !name_run(l, &i, inner))
        return 0;
    if (kind_is(l, kind, "event_msg")) {
        if (kind_is(l, inner, "token_count")) {
            if (!codex_total(l, i, e->counts)) return 0;
            e->kind = RUNNING;
            return 1;
        }
        return !kind_is(l, inner, "thread_name_updated");
    }
    if (!kind_is(l, kind, "response_item")) return 0;
    if (kind_is(l, inner, "function_call_output") || kind_is(l, inner, "custom_tool_call_output")) {
        e->kind = TURN_BREAK;
    } else if (kind_is(l, inner, "function_call") || kind_is(l, inner, "custom_tool_call") ||
               kind_is(l, inner, "local_shell_call")) {
        e->kind = TOOL_CALL;
    } else if (kind_is(l, inner, "message")) {
        return codex_message(l, st, e);
    } else if (!kind_is(l, inner, "reasoning") && !kind_is(l, inner, "web_search_call")) {
        return 0;
    }
    return 1;
}

/* --- the entry point ----------------------------------------------------------------------- */

static int ascii(Line l) {
    for (Py_ssize_t i = 0; i < l.n; i++)
        if (l.s[i] >= 128) return 0;
    return 1;
}

static PyObject *scan(PyObject *self, PyObject *args) {
    (void)self;
    int claude, utf8;
    Py_buffer data, state_buffer;
    Py_ssize_t at, end;
    PyObject *group_in;
    if (!PyArg_ParseTuple(args, "py*nnpw*O", &claude, &data, &at, &end, &utf8, &state_buffer, &group_in))
        return NULL;
    PyObject *result = NULL;
    if (state_buffer.len != STATE_SIZE * (Py_ssize_t)sizeof(long long) || at < 0 || end > data.len ||
        (group_in != Py_None && !PyBytes_Check(group_in))) {
        PyErr_SetString(PyExc_ValueError, "scan: bad state, span or group");
        goto done;
    }
    State st = {(long long *)state_buffer.buf, NULL, 0, claude};
    if (group_in != Py_None) {
        st.group = (Bytes)PyBytes_AS_STRING(group_in);
        st.group_len = PyBytes_GET_SIZE(group_in);
    }
    Bytes base = (Bytes)data.buf;
    Py_ssize_t taken = 0, stop = -1, prompt_start = -1, prompt_end = -1;
    while (at <= end) {
        Bytes newline = memchr(base + at, '\n', (size_t)(end - at));
        Py_ssize_t line_end = newline ? newline - base : end;
        Line l = {base + at, line_end - at};
        Effect e = {NOTHING, 0, 0, {0, 0, 0, 0}, NULL, 0};
        int took = (utf8 || ascii(l)) && (claude ? claude_line(l, &st, &e) : codex_line(l, &st, &e));
        if (!took || !apply(&st, &e)) {
            stop = line_end;
            break;
        }
        if (e.kind == PROMPT) {
            prompt_start = at;
            prompt_end = line_end;
        }
        taken++;
        at = line_end + 1;
    }
    PyObject *group;
    if (st.group == NULL)
        group = Py_NewRef(Py_None);
    else if (group_in != Py_None && st.group == (Bytes)PyBytes_AS_STRING(group_in))
        group = Py_NewRef(group_in); /* the same response goes on */
    else
        group = PyBytes_FromStringAndSize((const char *)st.group, st.group_len);
    if (group != NULL) result = Py_BuildValue("nnnnnN", at, taken, stop, prompt_start, prompt_end, group);
done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&state_buffer);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, "scan(claude, data, at, end, utf8, state, group): see the module's source."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "sessmap.transcripts._sniff",
    .m_doc = "sniff.py's fast path, in C.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__sniff(void) {
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && (PyModule_AddIntConstant(m, "STATE_SIZE", STATE_SIZE) < 0 ||
                      PyModule_AddStringConstant(m, "SOURCE", SNIFF_SOURCE) < 0))
        Py_CLEAR(m);
    return m;
}
