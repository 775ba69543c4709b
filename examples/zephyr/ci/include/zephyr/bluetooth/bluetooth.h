/* CI-only declarations of the Zephyr Bluetooth API the sample uses. */
#ifndef BLEPAKE_CI_ZEPHYR_BLUETOOTH_H
#define BLEPAKE_CI_ZEPHYR_BLUETOOTH_H

#include <zephyr/kernel.h>

typedef void (*bt_ready_cb_t)(int err);
int bt_enable(bt_ready_cb_t cb);

struct bt_data {
    uint8_t type;
    uint8_t data_len;
    const uint8_t *data;
};
#define BT_DATA_FLAGS 0x01
#define BT_DATA_UUID128_ALL 0x07
#define BT_LE_AD_GENERAL 0x02
#define BT_LE_AD_NO_BREDR 0x04
#define BT_DATA_BYTES(_type, _bytes...)                                        \
    {                                                                          \
        .type = (_type), .data_len = sizeof((uint8_t[]){_bytes}),              \
        .data = (const uint8_t[]){_bytes}                                      \
    }

struct bt_le_adv_param {
    uint32_t options;
};
extern const struct bt_le_adv_param bt_le_adv_conn;
#define BT_LE_ADV_CONN (&bt_le_adv_conn)
int bt_le_adv_start(const struct bt_le_adv_param *param, const struct bt_data *ad, size_t ad_len,
                    const struct bt_data *sd, size_t sd_len);

#define BT_HCI_ERR_REMOTE_USER_TERM_CONN 0x13

#endif
