/* schools.c -- GET /api/v1/schools: the schools a student can pick. */
#include <stdlib.h>

#include "db.h"
#include "handlers.h"

int
schools_handle(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    MYSQL_RES *r;
    MYSQL_ROW  row;
    json_t    *arr;

    (void) req;
    r = db_query(ctx, "SELECT id, name FROM schools ORDER BY id LIMIT 5000");
    if (r == NULL) {
        return -1;
    }
    arr = json_array();
    while ((row = mysql_fetch_row(r)) != NULL) {
        json_array_append_new(arr,
            json_pack("{s:I,s:s}", "id", (json_int_t) strtoll(row[0], NULL, 10),
                "name", row[1] ? row[1] : ""));
    }
    mysql_free_result(r);
    return resp_json(resp, 200, json_pack("{s:o}", "schools", arr));
}
