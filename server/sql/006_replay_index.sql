-- fete store, version 6: indexes for pattern reads (server/store/replay-plan.ts). A replay or SSE
-- stream for a pattern reads only the topics the pattern can match, in seq order per topic, and
-- narrows by the pattern's literal leading tokens as a byte-order range on subject; before, it read
-- every event after its cursor and tested each subject against the pattern's regex.
CREATE INDEX events_topic_seq ON {{schema}}.events (topic, seq);
CREATE INDEX events_subject_seq ON {{schema}}.events (subject COLLATE "C", seq);
