/* CI-only declarations of the Zephyr connection API the sample uses. */
#ifndef BLEPAKE_CI_ZEPHYR_CONN_H
#define BLEPAKE_CI_ZEPHYR_CONN_H

#include <zephyr/kernel.h>

struct bt_conn;
struct bt_conn *bt_conn_ref(struct bt_conn *conn);
void bt_conn_unref(struct bt_conn *conn);
int bt_conn_disconnect(struct bt_conn *conn, uint8_t reason);

struct bt_conn_cb {
    void (*connected)(struct bt_conn *conn, uint8_t err);
    void (*disconnected)(struct bt_conn *conn, uint8_t reason);
};
/* Zephyr places these in an iterable section; here they are plain. */
#define BT_CONN_CB_DEFINE(name) const struct bt_conn_cb name

#endif
