/*
 * The few Zephyr kernel declarations the blepake sample uses, for the CI
 * build check only (Zephyr itself is not fetched there). Signatures follow
 * Zephyr's documented API; ci/stubs.c gives them bodies so the image links.
 */
#ifndef BLEPAKE_CI_ZEPHYR_KERNEL_H
#define BLEPAKE_CI_ZEPHYR_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(array) (sizeof(array) / sizeof((array)[0]))
#define BIT(n) (1UL << (n))

typedef struct {
    int64_t ticks;
} k_timeout_t;
#define K_FOREVER ((k_timeout_t){-1})
#define K_NO_WAIT ((k_timeout_t){0})
#define K_MSEC(ms) ((k_timeout_t){(int64_t)(ms)})

int64_t k_uptime_get(void);
void printk(const char *format, ...);
void k_panic(void);

struct k_mutex {
    int locked;
};
#define K_MUTEX_DEFINE(name) struct k_mutex name = {0}
int k_mutex_lock(struct k_mutex *mutex, k_timeout_t timeout);
int k_mutex_unlock(struct k_mutex *mutex);

struct k_work;
typedef void (*k_work_handler_t)(struct k_work *work);
struct k_work {
    k_work_handler_t handler;
};
struct k_work_delayable {
    struct k_work work;
};
void k_work_init(struct k_work *work, k_work_handler_t handler);
int k_work_submit(struct k_work *work);
void k_work_init_delayable(struct k_work_delayable *dwork, k_work_handler_t handler);
int k_work_reschedule(struct k_work_delayable *dwork, k_timeout_t delay);

#endif
