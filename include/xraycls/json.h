/* xraycls/json.h — strict helpers over cJSON for configuration readers and report writers.
 *
 * Every getter names the full key path in its message, so a caller only adds the file:
 *   if (xc_json_get_double(optim, "optim", "lr", 1, &lr) < 0)
 *       return xc_errorf("config '%s': %s", path, xc_error());
 *   → "config 'x.json': optim.lr: expected a number, got string"
 *
 * `path` is the key path of the object being read ("" or NULL for the top level; "optim",
 * "data.augment", "milestones[2]" …); messages join it with the key: "optim.lr".
 *
 * Member getters return 1 when the key is present and *out was set, 0 when the key is absent
 * and not required (*out untouched, so preset defaults stay), -1 on error (wrong type, out of
 * range, or absent and required: "optim.lr: missing"). Item checkers (xc_json_item_*) validate a
 * value already in hand, e.g. an array element, and return 0 / -1.
 *
 * Strings and sub-objects returned are borrowed from the tree and live as long as it does.
 * Trees returned by xc_json_parse / xc_json_read_file are owned by the caller: cJSON_Delete.
 */
#ifndef XRAYCLS_JSON_H
#define XRAYCLS_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "xraycls/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "object", "array", "string", "number", "boolean", "null" (or "nothing" for NULL). */
const char *xc_json_type_name(const cJSON *item);

/* Joins a key path for messages: ("optim", "lr") → "optim.lr", ("", "lr") → "lr". Writes at most
 * cap bytes (truncating) and returns buf. */
char *xc_json_key_path(char *buf, size_t cap, const char *path, const char *key);

/* Parses text[0..len) as one JSON value with nothing but whitespace after it. `what` names the
 * text in messages: "invalid JSON in 'x.json' at line 3, column 7". */
cJSON *xc_json_parse(const char *text, size_t len, const char *what);
/* Reads (at most max bytes) and parses a file. */
cJSON *xc_json_read_file(const char *path, size_t max);

/* ---- checking values in hand; `path` names the value itself ---------------------------- */

/* An integral number in [min, max] (|value| < 2^53): "epochs: expected an integer, got 1.5". */
int xc_json_item_int(const cJSON *item, const char *path, long long min, long long max, long long *out);
/* A finite number in [min, max]. */
int xc_json_item_double(const cJSON *item, const char *path, double min, double max, double *out);
int xc_json_item_bool(const cJSON *item, const char *path, int *out);
int xc_json_item_string(const cJSON *item, const char *path, const char **out);

/* ---- members of an object; see the return convention above ------------------------------- */

int xc_json_get_int(const cJSON *obj, const char *path, const char *key, int required, long long *out);
/* With a range check: "train.epochs: 0 is out of range [1, 100000]". */
int xc_json_get_int_in(const cJSON *obj, const char *path, const char *key, int required, long long min,
                       long long max, long long *out);
int xc_json_get_double(const cJSON *obj, const char *path, const char *key, int required, double *out);
int xc_json_get_double_in(const cJSON *obj, const char *path, const char *key, int required, double min,
                          double max, double *out);
int xc_json_get_bool(const cJSON *obj, const char *path, const char *key, int required, int *out);
int xc_json_get_string(const cJSON *obj, const char *path, const char *key, int required, const char **out);
/* A string that must be one of choices[0..n); *out is its index:
 * "model.arch: 'resnet19' is not one of resnet18, resnet50, densenet121". */
int xc_json_get_choice(const cJSON *obj, const char *path, const char *key, int required,
                       const char *const *choices, int n, int *out);
int xc_json_get_object(const cJSON *obj, const char *path, const char *key, int required, const cJSON **out);
int xc_json_get_array(const cJSON *obj, const char *path, const char *key, int required, const cJSON **out);

/* obj must be an object whose keys are all in allowed[0..n), each at most once:
 * "unknown key 'train.epoch' (allowed: epochs, seed, batch_size)", "duplicate key 'train.seed'". */
int xc_json_check_keys(const cJSON *obj, const char *path, const char *const *allowed, int n);

/* The tree as text (pretty: indented; else one line). malloc'd, caller frees with free(). */
char *xc_json_to_string(const cJSON *root, int pretty);
/* Writes the tree to path atomically (xraycls/fs.h), with a final newline. */
int xc_json_write_file(const char *path, const cJSON *root, int pretty);

#ifdef __cplusplus
}
#endif
#endif
