-- Statistics: the day a case was raised (the camera's local date), the seconds from first seen
-- to seen clear, and when it was first dispatched (a dispatched case may be closed later).
ALTER TABLE cases ADD COLUMN day TEXT;
ALTER TABLE cases ADD COLUMN clear_s DOUBLE PRECISION;
ALTER TABLE cases ADD COLUMN dispatched_ms BIGINT;
CREATE INDEX cases_day ON cases (day);
