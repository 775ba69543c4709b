/*
 * The C API from C: a device and a host, both through include/blepake.h,
 * joined by in-memory transports. A fresh pairing with a message each way
 * (the host's first rides with its confirmation), a wrong code counted by
 * the device, and a bonded reconnect.
 *
 * Usage: pair <device record, hex> <its QR payload>
 * (tests/c/run provisions the device and runs it).
 */

#include "blepake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(condition)                                                       \
    do {                                                                       \
        if (!(condition)) {                                                    \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,  \
                    #condition);                                               \
            failures++;                                                        \
        }                                                                      \
    } while (0)

/* ---- The device's flash: slots by key, values up to 64 bytes. ---------- */

#define SLOTS 0x120
struct flash {
    unsigned char value[SLOTS][64];
    int len[SLOTS]; /* -1: empty */
    int writes;
};

static int32_t flash_read(void *ctx, uint16_t key, uint8_t *buf, size_t cap) {
    struct flash *flash = ctx;
    if (key >= SLOTS || flash->len[key] < 0) return -1;
    size_t len = (size_t)flash->len[key] < cap ? (size_t)flash->len[key] : cap;
    memcpy(buf, flash->value[key], len);
    return (int32_t)len;
}

static int32_t flash_write(void *ctx, uint16_t key, const uint8_t *value, size_t len) {
    struct flash *flash = ctx;
    if (key >= SLOTS || len > 64) return -2;
    memcpy(flash->value[key], value, len);
    flash->len[key] = (int)len;
    flash->writes++;
    return 0;
}

static int32_t flash_erase(void *ctx, uint16_t key) {
    struct flash *flash = ctx;
    if (key >= SLOTS) return -2;
    flash->len[key] = -1;
    return 0;
}

/* ---- Randomness from the OS. ------------------------------------------- */

static void os_random(void *ctx, uint8_t *buf, size_t len) {
    FILE *urandom = ctx;
    if (fread(buf, 1, len, urandom) != len) {
        fprintf(stderr, "no randomness\n");
        abort();
    }
}

/* ---- The link: values queued each way. --------------------------------- */

#define QUEUE 64
struct queue {
    unsigned char value[QUEUE][244];
    size_t len[QUEUE];
    int head, count;
};

struct side {
    struct queue *out;
    bool subscribed;      /* host: it enabled notifications */
    const bool *notify;   /* device: whether the host has */
    int connected, resumed, bonded, closed, failed, error, by_peer;
    uint8_t bond[BLEPAKE_BOND_LEN];
    char received[4][64];
    int messages;
    const char *greeting; /* sent on CONNECTED */
    bool close_on_message; /* closes the session once a message arrives */
};

static bool side_can_send(void *ctx) {
    struct side *side = ctx;
    return side->out->count < QUEUE && (side->notify == NULL || *side->notify);
}

static int32_t side_send(void *ctx, const uint8_t *value, size_t len) {
    struct side *side = ctx;
    struct queue *queue = side->out;
    if (queue->count == QUEUE || len > 244) return -1;
    int tail = (queue->head + queue->count) % QUEUE;
    memcpy(queue->value[tail], value, len);
    queue->len[tail] = len;
    queue->count++;
    return 0;
}

static int32_t side_subscribe(void *ctx) {
    ((struct side *)ctx)->subscribed = true;
    return 0;
}

static void side_event(void *ctx, blepake_conn *conn, const blepake_event *event) {
    struct side *side = ctx;
    switch (event->kind) {
    case BLEPAKE_EVENT_CONNECTED:
        side->connected++;
        side->resumed = event->resumed;
        if (side->greeting) {
            int rc = blepake_conn_send(conn, (const uint8_t *)side->greeting,
                                       strlen(side->greeting));
            CHECK(rc == BLEPAKE_OK);
        }
        break;
    case BLEPAKE_EVENT_BONDED:
        side->bonded++;
        memcpy(side->bond, event->bond, sizeof side->bond);
        break;
    case BLEPAKE_EVENT_CLOSED:
        side->closed++;
        break;
    case BLEPAKE_EVENT_FAILED:
        side->failed++;
        side->error = event->error;
        side->by_peer = event->by_peer;
        break;
    }
}

static void side_message(void *ctx, blepake_conn *conn, const uint8_t *message, size_t len) {
    struct side *side = ctx;
    if (side->close_on_message) CHECK(blepake_conn_close(conn, 0) == BLEPAKE_OK);
    if (side->messages < 4 && len < 64) {
        memcpy(side->received[side->messages], message, len);
        side->received[side->messages][len] = 0;
    }
    side->messages++;
}

static blepake_transport transport_for(struct side *side) {
    blepake_transport transport = {
        .ctx = side,
        .max_value_len = 244,
        .can_send = side_can_send,
        .send = side_send,
        .subscribe = side_subscribe,
        .on_event = side_event,
        .on_message = side_message,
        .on_writable = NULL,
    };
    return transport;
}

/* One BLE link between `host` (already started) and a new link of `dev`,
 * run until neither side has anything to send. */
static void run_link(blepake_device *dev, blepake_host *host, struct side *host_side,
                     struct side *device_side, uint64_t now) {
    static struct queue to_device, to_host;
    memset(&to_device, 0, sizeof to_device);
    memset(&to_host, 0, sizeof to_host);
    host_side->out = &to_device;
    device_side->out = &to_host;
    device_side->notify = &host_side->subscribed;
    blepake_transport host_transport = transport_for(host_side);
    blepake_transport device_transport = transport_for(device_side);

    uint32_t link;
    CHECK(blepake_device_accept(dev, now, &link) == BLEPAKE_OK);
    CHECK(blepake_host_ready(host, now, &host_transport) == BLEPAKE_OK);
    for (int round = 0; round < 100 && (to_device.count || to_host.count); round++) {
        while (to_device.count) {
            int i = to_device.head;
            to_device.head = (to_device.head + 1) % QUEUE;
            to_device.count--;
            CHECK(blepake_device_input(dev, link, to_device.value[i], to_device.len[i], now,
                                       &device_transport) == BLEPAKE_OK);
        }
        while (to_host.count) {
            int i = to_host.head;
            to_host.head = (to_host.head + 1) % QUEUE;
            to_host.count--;
            CHECK(blepake_host_input(host, to_host.value[i], to_host.len[i], now,
                                     &host_transport) == BLEPAKE_OK);
        }
    }
    CHECK(blepake_device_disconnected(dev, link, now, &device_transport) == BLEPAKE_OK);
    CHECK(blepake_device_remove(dev, link) == BLEPAKE_OK);
    CHECK(blepake_device_remove(dev, link) == BLEPAKE_UNKNOWN_LINK);
}

static size_t unhex(const char *text, uint8_t *out, size_t cap) {
    size_t len = strlen(text) / 2;
    if (len > cap) return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned int byte;
        if (sscanf(text + 2 * i, "%2x", &byte) != 1) return 0;
        out[i] = (uint8_t)byte;
    }
    return len;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s RECORD_HEX PAYLOAD\n", argv[0]);
        return 2;
    }
    uint8_t record[BLEPAKE_RECORD_LEN];
    if (unhex(argv[1], record, sizeof record) != sizeof record) {
        fprintf(stderr, "a record is %d bytes of hex\n", BLEPAKE_RECORD_LEN);
        return 2;
    }
    FILE *urandom = fopen("/dev/urandom", "rb");
    if (!urandom) return 2;
    blepake_rng rng = {.ctx = urandom, .fill = os_random};

    static struct flash flash;
    for (int i = 0; i < SLOTS; i++) flash.len[i] = -1;
    blepake_storage storage = {
        .ctx = &flash, .read = flash_read, .write = flash_write, .erase = flash_erase};

    static blepake_device dev;
    static blepake_host host;
    uint64_t now = 1000;

    /* Bad arguments are refused, not crashed on. */
    CHECK(blepake_device_accept(&dev, now, NULL) == BLEPAKE_INVALID_ARGUMENT);
    CHECK(blepake_device_init(&dev, record, 10, NULL, storage, rng, now) == BLEPAKE_INVALID_RECORD);
    CHECK(blepake_host_pair_payload(&host, "BP:NOT A PAYLOAD", NULL, 0, rng, now) ==
          BLEPAKE_INVALID_PAYLOAD);

    CHECK(blepake_device_init(&dev, record, sizeof record, NULL, storage, rng, now) == BLEPAKE_OK);
    uint8_t info[BLEPAKE_SETUP_INFO_LEN];
    CHECK(blepake_device_setup_info(&dev, info) == BLEPAKE_OK);

    /* 1. A fresh pairing from the QR payload; messages both ways. */
    struct side host_side = {.greeting = "hello device", .close_on_message = true};
    struct side device_side = {.greeting = "hello host"};
    CHECK(blepake_host_pair_payload(&host, argv[2], NULL, 0, rng, now) == BLEPAKE_OK);
    run_link(&dev, &host, &host_side, &device_side, now);
    CHECK(host_side.connected == 1 && device_side.connected == 1);
    CHECK(!host_side.resumed && host_side.bonded == 1 && device_side.bonded == 1);
    CHECK(device_side.messages == 1 && strcmp(device_side.received[0], "hello device") == 0);
    CHECK(host_side.messages == 1 && strcmp(host_side.received[0], "hello host") == 0);
    CHECK(host_side.failed == 0 && device_side.failed == 0);
    CHECK(host_side.closed == 1 && device_side.closed == 1);
    uint8_t bond[BLEPAKE_BOND_LEN];
    memcpy(bond, host_side.bond, sizeof bond);
    blepake_host_deinit(&host);
    CHECK(blepake_host_state(&host) == 0);

    /* 2. A wrong code typed with the device's Setup Info, once the owner
     *    opened the window: counted. (Before, the window is closed.) */
    uint16_t failures_before = 99;
    bool locked = true;
    CHECK(blepake_host_pair_code(&host, info, "2718281", NULL, 0, rng, now) ==
          BLEPAKE_INVALID_PAYLOAD);
    CHECK(blepake_host_pair_code(&host, info, "27182818", NULL, 0, rng, now) == BLEPAKE_OK);
    struct side closed_host = {0}, closed_device = {0};
    run_link(&dev, &host, &closed_host, &closed_device, now);
    CHECK(closed_host.failed == 1 && closed_host.error == 10 && closed_host.by_peer);
    blepake_host_deinit(&host);
    CHECK(blepake_device_open_pairing_window(&dev, now) == BLEPAKE_OK);
    CHECK(blepake_host_pair_code(&host, info, "27182818", NULL, 0, rng, now) == BLEPAKE_OK);
    struct side wrong_host = {0}, wrong_device = {0};
    run_link(&dev, &host, &wrong_host, &wrong_device, now);
    CHECK(wrong_host.failed == 1 && wrong_host.error == 1 && !wrong_host.by_peer);
    CHECK(wrong_device.failed == 1 && wrong_device.error == 1 && wrong_device.by_peer);
    CHECK(blepake_device_attempts(&dev, &failures_before, &locked) == BLEPAKE_OK);
    CHECK(failures_before == 1 && !locked);
    blepake_host_deinit(&host);

    /* 3. The bonded reconnect: one round trip, no code. */
    struct side resumed_host = {.greeting = "again"};
    struct side resumed_device = {0};
    CHECK(blepake_host_resume(&host, bond, sizeof bond, rng, now) == BLEPAKE_OK);
    run_link(&dev, &host, &resumed_host, &resumed_device, now);
    CHECK(resumed_host.connected == 1 && resumed_host.resumed);
    CHECK(resumed_device.connected == 1 && resumed_device.resumed);
    CHECK(resumed_device.messages == 1 && strcmp(resumed_device.received[0], "again") == 0);
    blepake_host_deinit(&host);

    blepake_device_deinit(&dev);
    CHECK(blepake_device_accept(&dev, now, &(uint32_t){0}) == BLEPAKE_INVALID_ARGUMENT);
    fclose(urandom);
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("C API: paired, exchanged messages, counted a wrong code, resumed\n");
    return 0;
}
