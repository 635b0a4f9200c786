/* test_json.c — the strict JSON getters (types, ranges, missing keys, key paths in messages),
 * the allowed-keys check, parsing with line/column errors, and atomic JSON writing. */
#include "check.h"
#include "xraycls/fs.h"
#include "xraycls/json.h"

static cJSON *parse(const char *s) {
    cJSON *j = xc_json_parse(s, strlen(s), "test.json");
    CHECK_MSG(j != NULL, "%s", xc_error());
    return j;
}

int main(void) {
    cJSON *root = parse("{\"train\": {\"epochs\": 10, \"lr\": 0.001, \"amp\": true, \"name\": \"r18\",\n"
                        "  \"frac\": 1.5, \"big\": 1e300, \"neg\": -3, \"arch\": \"resnet50\", \"list\": [1, 2],\n"
                        "  \"n\": null}, \"seed\": 7}");
    if (!root) return check_done("test_json");
    const cJSON *train = NULL;
    CHECK(xc_json_get_object(root, "", "train", 1, &train) == 1 && train);

    long long i = -1;
    CHECK(xc_json_get_int(train, "train", "epochs", 1, &i) == 1 && i == 10);
    CHECK(xc_json_get_int(root, NULL, "seed", 1, &i) == 1 && i == 7);
    CHECK(xc_json_get_int(train, "train", "neg", 1, &i) == 1 && i == -3);
    CHECK(xc_json_get_int(train, "train", "frac", 1, &i) < 0);
    CHECK_CONTAINS(xc_error(), "train.frac: expected an integer, got 1.5");
    CHECK(xc_json_get_int(train, "train", "name", 1, &i) < 0);
    CHECK_CONTAINS(xc_error(), "train.name: expected an integer, got string");
    CHECK(xc_json_get_int(train, "train", "big", 1, &i) < 0);
    CHECK_CONTAINS(xc_error(), "train.big");
    CHECK(xc_json_get_int_in(train, "train", "epochs", 1, 1, 5, &i) < 0);
    CHECK_CONTAINS(xc_error(), "train.epochs: 10 is out of range [1, 5]");
    i = 42;
    CHECK(xc_json_get_int(train, "train", "absent", 0, &i) == 0 && i == 42); /* default kept */
    CHECK(xc_json_get_int(train, "train", "absent", 1, &i) < 0);
    CHECK_CONTAINS(xc_error(), "train.absent: missing");
    CHECK(xc_json_get_int(root, "", "seed", 1, &i) == 1);

    double d = 0;
    CHECK(xc_json_get_double(train, "train", "lr", 1, &d) == 1 && d == 0.001);
    CHECK(xc_json_get_double(train, "train", "epochs", 1, &d) == 1 && d == 10.0);
    CHECK(xc_json_get_double(train, "train", "name", 1, &d) < 0);
    CHECK_CONTAINS(xc_error(), "train.name: expected a number, got string");
    CHECK(xc_json_get_double(train, "train", "n", 1, &d) < 0);
    CHECK_CONTAINS(xc_error(), "got null");
    CHECK(xc_json_get_double_in(train, "train", "lr", 1, 0.01, 1.0, &d) < 0);
    CHECK_CONTAINS(xc_error(), "train.lr: 0.001 is out of range [0.01, 1]");

    int b = -1;
    CHECK(xc_json_get_bool(train, "train", "amp", 1, &b) == 1 && b == 1);
    CHECK(xc_json_get_bool(train, "train", "epochs", 1, &b) < 0);
    CHECK_CONTAINS(xc_error(), "train.epochs: expected true or false, got number");

    const char *s = NULL;
    CHECK(xc_json_get_string(train, "train", "name", 1, &s) == 1 && s && !strcmp(s, "r18"));
    CHECK(xc_json_get_string(train, "train", "lr", 1, &s) < 0);
    CHECK_CONTAINS(xc_error(), "train.lr: expected a string, got number");

    static const char *const archs[] = {"resnet18", "resnet50", "densenet121"};
    int k = -1;
    CHECK(xc_json_get_choice(train, "train", "arch", 1, archs, 3, &k) == 1 && k == 1);
    CHECK(xc_json_get_choice(train, "train", "name", 1, archs, 3, &k) < 0);
    CHECK_CONTAINS(xc_error(), "train.name: 'r18' is not one of resnet18, resnet50, densenet121");

    const cJSON *arr = NULL, *obj = NULL;
    CHECK(xc_json_get_array(train, "train", "list", 1, &arr) == 1 && cJSON_GetArraySize(arr) == 2);
    CHECK(xc_json_get_array(train, "train", "name", 1, &arr) < 0);
    CHECK_CONTAINS(xc_error(), "train.name: expected an array, got string");
    CHECK(xc_json_get_object(train, "train", "list", 1, &obj) < 0);
    CHECK_CONTAINS(xc_error(), "train.list: expected an object, got array");
    CHECK(xc_json_get_int(arr, "train.list", "x", 1, &i) < 0); /* not an object */
    CHECK_CONTAINS(xc_error(), "train.list: expected an object, got array");

    /* Item checkers, e.g. array elements with their own path. */
    CHECK(xc_json_item_int(cJSON_GetArrayItem(arr, 1), "train.list[1]", 0, 1, &i) < 0);
    CHECK_CONTAINS(xc_error(), "train.list[1]: 2 is out of range [0, 1]");
    CHECK(xc_json_item_int(cJSON_GetArrayItem(arr, 0), "train.list[0]", 0, 1, &i) == 0 && i == 1);
    CHECK(xc_json_item_string(NULL, "x", &s) < 0);
    CHECK_CONTAINS(xc_error(), "x: expected a string, got nothing");

    /* Allowed keys. */
    static const char *const allowed[] = {"epochs", "lr", "amp", "name", "frac", "big", "neg", "arch", "list", "n"};
    CHECK(xc_json_check_keys(train, "train", allowed, 10) == 0);
    CHECK(xc_json_check_keys(train, "train", allowed, 9) < 0);
    CHECK_CONTAINS(xc_error(), "unknown key 'train.n' (allowed: epochs, lr, amp, name, frac, big, neg, arch, list)");
    static const char *const top[] = {"train"};
    CHECK(xc_json_check_keys(root, "", top, 1) < 0);
    CHECK_CONTAINS(xc_error(), "unknown key 'seed' (allowed: train)");
    /* Parsing refuses repeated keys (test_json_dup.c); a tree built in code can still hold them. */
    cJSON *dup = cJSON_CreateObject();
    cJSON_AddNumberToObject(dup, "a", 1);
    cJSON_AddNumberToObject(dup, "b", 2);
    cJSON_AddNumberToObject(dup, "a", 3);
    static const char *const ab[] = {"a", "b"};
    CHECK(xc_json_check_keys(dup, "cfg", ab, 2) < 0);
    CHECK_CONTAINS(xc_error(), "duplicate key 'cfg.a'");
    cJSON_Delete(dup);
    CHECK(xc_json_check_keys(arr, "train.list", ab, 2) < 0);
    CHECK_CONTAINS(xc_error(), "train.list: expected an object, got array");

    char kp[16];
    CHECK(!strcmp(xc_json_key_path(kp, sizeof kp, "a.b", "c"), "a.b.c"));
    CHECK(!strcmp(xc_json_key_path(kp, sizeof kp, "", "c"), "c"));
    CHECK(!strcmp(xc_json_key_path(kp, 4, "abc", "def"), "abc")); /* truncated, terminated */

    /* Parse errors give line and column; trailing garbage is refused. */
    CHECK(xc_json_parse("{\"a\": 1,\n  \"b\": }", 17, "cfg.json") == NULL);
    CHECK_CONTAINS(xc_error(), "invalid JSON in 'cfg.json' at line 2");
    CHECK(xc_json_parse("{} {}", 5, "cfg.json") == NULL);
    CHECK_CONTAINS(xc_error(), "cfg.json");
    CHECK(xc_json_parse("{\"a\":1}\0", 8, "nul.json") == NULL);
    CHECK_CONTAINS(xc_error(), "NUL");
    cJSON *ws = xc_json_parse("  {\"a\": 1}  \n", 13, "ws.json");
    CHECK(ws != NULL);
    cJSON_Delete(ws);

    /* Writing: pretty and one line, atomically, read back equal. */
    const char *tmp = check_tmpdir();
    char *p1 = xc_path_join(tmp, "pretty config.json"), *p2 = xc_path_join(tmp, "line.json");
    CHECK(xc_json_write_file(p1, root, 1) == 0);
    CHECK(xc_json_write_file(p2, root, 0) == 0);
    size_t n1, n2;
    char *t1 = xc_read_file(p1, &n1, 1 << 20), *t2 = xc_read_file(p2, &n2, 1 << 20);
    CHECK(t1 && t2 && n1 > n2);
    CHECK(t2 && strchr(t2, '\n') == t2 + n2 - 1); /* one line, newline-terminated */
    CHECK(t1 && t1[n1 - 1] == '\n' && strchr(t1, '\n') < t1 + n1 - 1);
    cJSON *back = xc_json_read_file(p1, 1 << 20);
    CHECK(back && cJSON_Compare(back, root, 1));
    cJSON_Delete(back);
    back = xc_json_read_file(p2, 1 << 20);
    CHECK(back && cJSON_Compare(back, root, 1));
    cJSON_Delete(back);
    CHECK(xc_json_read_file(p1, 10) == NULL);
    CHECK_CONTAINS(xc_error(), "pretty config.json");
    char *missing = xc_path_join(tmp, "no/such/dir.json");
    CHECK(xc_json_write_file(missing, root, 0) < 0);
    CHECK_CONTAINS(xc_error(), "no/such/dir.json");
    char *one = xc_json_to_string(root, 0);
    CHECK(one && !strchr(one, '\n') && strstr(one, "\"epochs\":10"));
    free(one);
    free(t1);
    free(t2);
    free(p1);
    free(p2);
    free(missing);
    cJSON_Delete(root);
    return check_done("test_json");
}
