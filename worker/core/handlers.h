/*
 * handlers.h -- every operation handler, by owner file: the signatures the
 * layers above core/ implement.  The program's operation table (ops.c)
 * maps TUCAI_OP_* to them; core/ itself never names one (it gets the
 * table from pool_run()), so it depends on nothing above it.
 */
#ifndef TUCAI_HANDLERS_H
#define TUCAI_HANDLERS_H

#include "handler.h"

#define TUCAI_HANDLER(name) \
    int name(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)

/* health.c, schools.c */
TUCAI_HANDLER(health_handle);
TUCAI_HANDLER(schools_handle);

/* journey_*.c: the student journey, steps 1-14 */
TUCAI_HANDLER(journey_login);
TUCAI_HANDLER(journey_code);
TUCAI_HANDLER(journey_phone);
TUCAI_HANDLER(journey_confirm);
TUCAI_HANDLER(journey_notice);
TUCAI_HANDLER(journey_notice_ack);
TUCAI_HANDLER(journey_subs_get);
TUCAI_HANDLER(journey_subs_set);
TUCAI_HANDLER(journey_video);
TUCAI_HANDLER(journey_video_start);
TUCAI_HANDLER(journey_video_finish);
TUCAI_HANDLER(journey_capture);
TUCAI_HANDLER(journey_drafts);
TUCAI_HANDLER(journey_draft_photo);
TUCAI_HANDLER(journey_draft_delete);
TUCAI_HANDLER(journey_submission);
TUCAI_HANDLER(journey_me);

/* pay*.c: steps 15-16 */
TUCAI_HANDLER(pay_handle_order);
TUCAI_HANDLER(pay_handle_notify);
TUCAI_HANDLER(pay_handle_photo);

/* admin_*.c: the school back office */
TUCAI_HANDLER(admin_login);
TUCAI_HANDLER(admin_roster);
TUCAI_HANDLER(admin_codes);
TUCAI_HANDLER(admin_revoke);
TUCAI_HANDLER(admin_students);
TUCAI_HANDLER(admin_unlock);
TUCAI_HANDLER(admin_settings_get);
TUCAI_HANDLER(admin_settings_set);
TUCAI_HANDLER(admin_progress);
TUCAI_HANDLER(admin_export);
TUCAI_HANDLER(admin_audit);
TUCAI_HANDLER(admin_code_sheet);
TUCAI_HANDLER(admin_student_photo);
TUCAI_HANDLER(admin_student);
TUCAI_HANDLER(admin_capture_photo);

/* Offline commands of `tucai-worker -c INI admin ...` (admin_cli.c):
 * create schools and teachers, seed the demo.  Returns an exit status. */
int admin_cli(tucai_ctx_t *ctx, int argc, char **argv);

#endif
