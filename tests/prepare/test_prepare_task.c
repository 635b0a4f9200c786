/* test_prepare_task.c — the label mappings (prepare.h, "tasks"): every preset on every kind of
 * row of the real file, both spellings of Pneumonia, exclusion reasons, unknown values, and a
 * custom task's rules. */
#include "check.h"
#include "xraycls/prepare.h"

static char why[512];
static const char *last(void) { return why; }

static int map(const xc_task *t, const char *l, const char *l1, const char *l2) {
    why[0] = '\0';
    return xc_task_map(t, l, l1, l2, why, sizeof why);
}

int main(void) {
    xc_task *t = xc_task_preset("4class", 0);
    CHECK(t != NULL);
    if (t) {
        CHECK(xc_task_num_classes(t) == 4);
        CHECK(!strcmp(xc_task_class(t, 3), "COVID-19"));
        CHECK(map(t, "Normal", "", "") == 0);
        CHECK(map(t, "Pnemonia", "bacteria", "") == 1);
        CHECK(map(t, "Pneumonia", "bacteria", "") == 1); /* the fixed spelling too */
        CHECK(map(t, "PNEMONIA", "Bacteria", "") == 1);  /* any case */
        CHECK(map(t, "Pnemonia", "bacteria", "Streptococcus") == 1);
        CHECK(map(t, "Pnemonia", "Virus", "") == 2);
        CHECK(map(t, "Pnemonia", "Virus", "SARS") == 2);
        CHECK(map(t, "Pnemonia", "Virus", "COVID-19") == 3);
        CHECK(map(t, " Pnemonia ", "Virus", "COVID-19 ") == 3); /* spaces trimmed */
        CHECK(map(t, "Pnemonia", "Stress-Smoking", "ARDS") == XC_TASK_EXCLUDED);
        CHECK(!strcmp(why, "Stress-Smoking/ARDS not in task 4class"));
        CHECK(map(t, "Pnemonia", "Fungus", "") == XC_TASK_UNKNOWN);
        CHECK(!strcmp(why, "unknown Label_1_Virus_category value 'Fungus'"));
        CHECK(map(t, "Sick", "", "") == XC_TASK_UNKNOWN);
        CHECK_CONTAINS(last(), "unknown Label value 'Sick'");
        CHECK(map(t, "Pnemonia", "Virus", "MERS") == XC_TASK_UNKNOWN);
        CHECK_CONTAINS(last(), "Label_2_Virus_category value 'MERS'");
        xc_task_free(t);
    }
    t = xc_task_preset("bacteria-vs-virus", 0);
    CHECK(t != NULL);
    if (t) {
        CHECK(map(t, "Normal", "", "") == XC_TASK_EXCLUDED);
        CHECK(!strcmp(why, "Normal not in task bacteria-vs-virus"));
        CHECK(map(t, "Pnemonia", "bacteria", "Streptococcus") == 0);
        CHECK(map(t, "Pnemonia", "Virus", "") == 1);
        CHECK(map(t, "Pnemonia", "Virus", "COVID-19") == 1); /* COVID-19 counted as Virus */
        CHECK(map(t, "Pnemonia", "Stress-Smoking", "ARDS") == XC_TASK_EXCLUDED);
        xc_task_free(t);
    }
    t = xc_task_preset("bacteria-vs-virus", 1);
    CHECK(t != NULL);
    if (t) {
        CHECK(map(t, "Pnemonia", "Virus", "COVID-19") == XC_TASK_EXCLUDED);
        CHECK_CONTAINS(last(), "COVID-19 excluded");
        CHECK(map(t, "Pnemonia", "Virus", "SARS") == 1);
        xc_task_free(t);
    }
    CHECK(xc_task_preset("4class", 1) == NULL); /* exclude_covid only for bacteria-vs-virus */
    CHECK_CONTAINS(xc_error(), "exclude_covid");
    t = xc_task_preset("normal-vs-pneumonia", 0);
    CHECK(t != NULL);
    if (t) {
        CHECK(map(t, "Normal", "", "") == 0);
        CHECK(map(t, "Pnemonia", "bacteria", "") == 1);
        CHECK(map(t, "Pnemonia", "Virus", "COVID-19") == 1);
        CHECK(map(t, "Pnemonia", "Stress-Smoking", "ARDS") == 1);
        xc_task_free(t);
    }
    t = xc_task_preset("covid-vs-rest", 0);
    CHECK(t != NULL);
    if (t) {
        CHECK(!strcmp(xc_task_class(t, 0), "Other") && !strcmp(xc_task_class(t, 1), "COVID-19"));
        CHECK(map(t, "Pnemonia", "Virus", "COVID-19") == 1);
        CHECK(map(t, "Normal", "", "") == 0);
        CHECK(map(t, "Pnemonia", "Virus", "SARS") == 0);
        xc_task_free(t);
    }
    CHECK(xc_task_preset("5class", 0) == NULL);
    CHECK_CONTAINS(xc_error(), "unknown task '5class'");
    CHECK_CONTAINS(xc_error(), "covid-vs-rest");

    /* A custom task: ARDS mapped, a new Label_1 value known through a rule. */
    const char *classes[] = {"healthy", "sick"};
    t = xc_task_new("mine", classes, 2);
    CHECK(t != NULL);
    if (t) {
        CHECK(xc_task_add_rule(t, "Normal", NULL, NULL, "healthy", NULL) == 0);
        CHECK(xc_task_add_rule(t, NULL, "Fungus", NULL, NULL, "fungal rows left out") == 0);
        CHECK(xc_task_add_rule(t, "Pneumonia", "*", "ARDS", "sick", NULL) == 0);
        CHECK(xc_task_add_rule(t, "Pneumonia", "Virus", "", "sick", NULL) == 0);
        CHECK(xc_task_add_rule(t, "Normal", NULL, NULL, "absent", NULL) < 0);
        CHECK_CONTAINS(xc_error(), "class 'absent'");
        CHECK(map(t, "Normal", "", "") == 0);
        CHECK(map(t, "Pnemonia", "Stress-Smoking", "ARDS") == 1);
        CHECK(map(t, "Pnemonia", "Virus", "") == 1);
        CHECK(map(t, "Pnemonia", "Virus", "SARS") == XC_TASK_EXCLUDED); /* "" matches empty only */
        CHECK(!strcmp(why, "Virus/SARS not in task mine"));
        CHECK(map(t, "Pnemonia", "fungus", "") == XC_TASK_EXCLUDED);
        CHECK(!strcmp(why, "fungal rows left out"));
        char *j = xc_task_json(t);
        CHECK(j != NULL);
        if (j) {
            CHECK_CONTAINS(j, "\"name\":\"mine\"");
            CHECK_CONTAINS(j, "\"label_2\":\"ARDS\"");
            CHECK_CONTAINS(j, "\"exclude\":true");
        }
        free(j);
        xc_task_free(t);
    }
    const char *dup[] = {"a", "a"};
    CHECK(xc_task_new("d", dup, 2) == NULL);
    CHECK_CONTAINS(xc_error(), "named twice");
    return check_done("prepare_task");
}
