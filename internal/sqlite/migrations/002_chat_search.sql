-- qun schema, version 2: chat listings by visibility, keyword and activity.

ALTER TABLE chats ADD COLUMN public INTEGER NOT NULL DEFAULT 0;
-- search holds the lower-cased name and localised names, for keyword search.
ALTER TABLE chats ADD COLUMN search TEXT NOT NULL DEFAULT '';
-- active_at is the chat's UpdatedAt in Unix milliseconds.
ALTER TABLE chats ADD COLUMN active_at INTEGER NOT NULL DEFAULT 0;

UPDATE chats SET
    public = (json_extract(data, '$.settings.visibility') = 'public'),
    search = lower(name || char(10) || coalesce(json_extract(data, '$.i18n_names.zh_cn'), '') || char(10)
                   || coalesce(json_extract(data, '$.i18n_names.en_us'), '') || char(10)
                   || coalesce(json_extract(data, '$.i18n_names.ja_jp'), '')),
    active_at = coalesce(CAST(strftime('%s', json_extract(data, '$.updated_at')) AS INTEGER) * 1000, 0);

CREATE INDEX chats_public ON chats (tenant_id, public, id);
CREATE INDEX chats_active ON chats (active_at DESC, id DESC);
