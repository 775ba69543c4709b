/* CI-only declarations of the Zephyr UUID types the sample uses. */
#ifndef BLEPAKE_CI_ZEPHYR_UUID_H
#define BLEPAKE_CI_ZEPHYR_UUID_H

#include <zephyr/kernel.h>

struct bt_uuid {
    uint8_t type;
};
struct bt_uuid_128 {
    struct bt_uuid uuid;
    uint8_t val[16];
};
#define BT_UUID_TYPE_128 2
#define BT_UUID_INIT_128(value...)                                             \
    {                                                                          \
        .uuid = {BT_UUID_TYPE_128}, .val = {value},                            \
    }
/* Little-endian bytes of a UUID given as its five hex groups. */
#define BT_UUID_128_ENCODE(w32, w1, w2, w3, w48)                               \
    (((w48) >> 0) & 0xFF), (((w48) >> 8) & 0xFF), (((w48) >> 16) & 0xFF),     \
        (((w48) >> 24) & 0xFF), (((w48) >> 32) & 0xFF), (((w48) >> 40) & 0xFF), \
        (((w3) >> 0) & 0xFF), (((w3) >> 8) & 0xFF), (((w2) >> 0) & 0xFF),      \
        (((w2) >> 8) & 0xFF), (((w1) >> 0) & 0xFF), (((w1) >> 8) & 0xFF),      \
        (((w32) >> 0) & 0xFF), (((w32) >> 8) & 0xFF), (((w32) >> 16) & 0xFF),  \
        (((w32) >> 24) & 0xFF)

#endif
