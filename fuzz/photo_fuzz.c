/*
 * photo_fuzz.c -- libFuzzer target for the image entry point: any bytes as
 * the photo (and, when the first byte is odd, also as two liveness frames)
 * through photo_process with production on, under a small spec and tight
 * limits.  Built by mk/photo.mk with clang -fsanitize=fuzzer,address,undefined.
 */
#include "photo.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    return photo_init((*argv)[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    photo_spec_t spec;
    photo_thresholds_t th;
    photo_spec_default(&spec);
    photo_thresholds_default(&th);
    /* small and quick: a fuzzer must not spend its time on big pictures */
    th.max_pixels = 4 * 1000 * 1000;
    th.max_bytes = 1 << 20;
    th.decode_timeout_ms = 2000;
    th.min_short_side = 64;
    const unsigned char *frames[2] = { data, data };
    size_t lens[2] = { size, size };
    photo_input_t in = { .photo = data, .photo_len = size, .frames = frames,
        .frame_lens = lens, .nframes = (size && (data[0] & 1)) ? 2 : 0,
        .judge_liveness = size && (data[0] & 1) };
    photo_result_t res;
    if (photo_process(&in, &spec, &th, 1, &res) == 0) {
        /* the verdict must always be a complete object */
        if (!json_is_object(res.verdict) || !json_is_array(json_object_get(res.verdict, "reasons")))
            abort();
        if (res.pass && !res.jpeg) abort();
    }
    photo_result_free(&res);
    return 0;
}
