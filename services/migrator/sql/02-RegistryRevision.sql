-- The registry's global revision: one counter every registry write increments in its own
-- transaction, so workers poll GET /revision and reload their configuration when it grows.

DEFINE TABLE meta SCHEMAFULL;
DEFINE FIELD revision ON meta TYPE int DEFAULT 0 ASSERT $value >= 0;
DEFINE FIELD updated_at ON meta TYPE datetime DEFAULT time::now();

CREATE meta:registry CONTENT { revision: 0 };
