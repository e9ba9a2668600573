-- Seed data of 0001_foundation: integration templates for the seven services, workflow templates
-- in Autofy's step format (docs/workflow-format.md), and the initial system_status rows.
-- Fixed ids so later migrations can reference these rows; re-running this script refreshes the
-- templates' content and never duplicates a row.

-- ---------------------------------------------------------------------------------------------
-- integration_templates: how each service authenticates, the credential fields a user fills in,
-- the default API base (overridable per integration as configuration.api_base), and how to get
-- the credential.
-- ---------------------------------------------------------------------------------------------
insert into public.integration_templates
  (id, service_name, template_name, description, configuration, required_scopes, setup_guide)
values
(
  '10000000-0000-4000-8000-000000000001', 'gmail', 'Gmail',
  'Read, search, label and send email from your Gmail account.',
  $json${
    "auth_kind": "oauth2",
    "credential_fields": [
      {"name": "client_id", "label": "OAuth client ID", "secret": false},
      {"name": "client_secret", "label": "OAuth client secret", "secret": true},
      {"name": "refresh_token", "label": "Refresh token", "secret": true}
    ],
    "oauth": {
      "authorization_url": "https://accounts.google.com/o/oauth2/v2/auth",
      "token_url": "https://oauth2.googleapis.com/token"
    },
    "api_base": "https://gmail.googleapis.com"
  }$json$::jsonb,
  array[
    'https://www.googleapis.com/auth/gmail.readonly',
    'https://www.googleapis.com/auth/gmail.send',
    'https://www.googleapis.com/auth/gmail.modify'
  ],
  $guide$1. In the Google Cloud console (https://console.cloud.google.com), create a project and enable the Gmail API.
2. Under "APIs & Services" > "OAuth consent screen", configure the app and add the scopes gmail.readonly, gmail.send and gmail.modify.
3. Under "Credentials", create an OAuth client ID of type "Web application" and add Autofy's callback URL as an authorized redirect URI.
4. Enter the client ID and client secret in Autofy and sign in with Google when asked; Autofy stores the refresh token encrypted.$guide$
),
(
  '10000000-0000-4000-8000-000000000002', 'notion', 'Notion',
  'Create and update pages and query databases in your Notion workspace.',
  $json${
    "auth_kind": "api_key",
    "credential_fields": [
      {"name": "token", "label": "Internal integration secret", "secret": true}
    ],
    "api_base": "https://api.notion.com",
    "api_version": "2022-06-28"
  }$json$::jsonb,
  null,
  $guide$1. Open https://www.notion.so/profile/integrations and create a new internal integration for your workspace.
2. Give it the capabilities "Read content", "Update content" and "Insert content", then copy its internal integration secret (it starts with "ntn_" or "secret_").
3. In Notion, open each page or database Autofy should use, choose "..." > "Connections" and add your integration: Notion only lets it see what you share with it.
4. Paste the secret into Autofy.$guide$
),
(
  '10000000-0000-4000-8000-000000000003', 'telegram', 'Telegram bot',
  'Send messages, photos and documents through your Telegram bot, and react to messages it receives.',
  $json${
    "auth_kind": "bot_token",
    "credential_fields": [
      {"name": "bot_token", "label": "Bot token", "secret": true}
    ],
    "api_base": "https://api.telegram.org"
  }$json$::jsonb,
  null,
  $guide$1. In Telegram, open a chat with @BotFather and send /newbot; choose a name and a username for your bot.
2. BotFather replies with the bot token (it looks like 123456789:AA...); paste it into Autofy.
3. Send any message to your bot (or add it to a group) so it may write to that chat; the chat id appears in the bot's updates and in Autofy's "new message" trigger.$guide$
),
(
  '10000000-0000-4000-8000-000000000004', 'openai', 'OpenAI',
  'Prompt, summarize, classify and extract with OpenAI models, or any OpenAI-compatible server.',
  $json${
    "auth_kind": "api_key",
    "credential_fields": [
      {"name": "api_key", "label": "API key", "secret": true}
    ],
    "api_base": "https://api.openai.com/v1",
    "default_model": "gpt-4o-mini"
  }$json$::jsonb,
  null,
  $guide$1. Sign in at https://platform.openai.com and open "API keys".
2. Create a new secret key (it starts with "sk-") and copy it; OpenAI shows it only once.
3. Paste it into Autofy. To use another OpenAI-compatible server (a local model or a proxy), set its base URL as the integration's API base.$guide$
),
(
  '10000000-0000-4000-8000-000000000005', 'anthropic', 'Anthropic',
  'Prompt, summarize, classify and extract with Anthropic''s Claude models.',
  $json${
    "auth_kind": "api_key",
    "credential_fields": [
      {"name": "api_key", "label": "API key", "secret": true}
    ],
    "api_base": "https://api.anthropic.com",
    "default_model": "claude-3-5-haiku-latest"
  }$json$::jsonb,
  null,
  $guide$1. Sign in at https://console.anthropic.com and open "API keys".
2. Create a key (it starts with "sk-ant-") and copy it.
3. Paste it into Autofy.$guide$
),
(
  '10000000-0000-4000-8000-000000000006', 'gemini', 'Google Gemini',
  'Prompt, summarize, classify and extract with Google''s Gemini models.',
  $json${
    "auth_kind": "api_key",
    "credential_fields": [
      {"name": "api_key", "label": "API key", "secret": true}
    ],
    "api_base": "https://generativelanguage.googleapis.com",
    "default_model": "gemini-2.0-flash"
  }$json$::jsonb,
  null,
  $guide$1. Open Google AI Studio at https://aistudio.google.com/apikey.
2. Create an API key (in a new or an existing Google Cloud project) and copy it.
3. Paste it into Autofy.$guide$
),
(
  '10000000-0000-4000-8000-000000000007', 'openrouter', 'OpenRouter',
  'Reach hundreds of models from many providers through one OpenRouter key.',
  $json${
    "auth_kind": "api_key",
    "credential_fields": [
      {"name": "api_key", "label": "API key", "secret": true}
    ],
    "api_base": "https://openrouter.ai/api/v1",
    "default_model": "openai/gpt-4o-mini"
  }$json$::jsonb,
  null,
  $guide$1. Sign in at https://openrouter.ai and open "Keys" (https://openrouter.ai/keys).
2. Create a key (it starts with "sk-or-"), optionally with a credit limit, and copy it.
3. Paste it into Autofy; model names take the provider/model form, such as openai/gpt-4o-mini.$guide$
)
on conflict (id) do update set
  service_name = excluded.service_name,
  template_name = excluded.template_name,
  description = excluded.description,
  configuration = excluded.configuration,
  required_scopes = excluded.required_scopes,
  setup_guide = excluded.setup_guide;

-- ---------------------------------------------------------------------------------------------
-- workflow_templates: template_data is a complete workflow in docs/workflow-format.md, using only
-- catalog action names and their documented fields; `inputs` say what a user fills in.
-- ---------------------------------------------------------------------------------------------
insert into public.workflow_templates
  (id, name, description, category, difficulty, required_integrations, template_data, is_featured)
values
(
  '20000000-0000-4000-8000-000000000001',
  'Save new emails to Notion',
  'Every new Gmail email that matches your search becomes a page in a Notion database.',
  'productivity', 'beginner', array['gmail', 'notion'],
  $json${
    "name": "Save new emails to Notion",
    "description": "Every new Gmail email that matches your search becomes a page in a Notion database.",
    "trigger_type": "email",
    "trigger_config": {"poll_interval_seconds": 60},
    "tags": ["email", "notion"],
    "steps": [
      {"step_order": 1, "step_type": "trigger", "service_name": "gmail", "action_name": "new_email",
       "configuration": {"query": "in:inbox"}},
      {"step_order": 2, "step_type": "action", "service_name": "notion", "action_name": "create_page",
       "configuration": {
         "parent_database_id": "",
         "title": "{{ trigger.subject }}",
         "content": "From: {{ trigger.from }}\nDate: {{ trigger.date }}\n\n{{ trigger.body_text }}"
       }}
    ],
    "inputs": [
      {"key": "gmail_query", "label": "Which emails", "type": "string", "required": false,
       "description": "A Gmail search such as \"from:invoices@example.com\" or \"label:receipts\".",
       "targets": ["/steps/0/configuration/query"]},
      {"key": "notion_database_id", "label": "Notion database", "type": "string", "required": true,
       "description": "The database the pages are created in (shared with your Notion integration).",
       "targets": ["/steps/1/configuration/parent_database_id"]}
    ]
  }$json$::jsonb,
  true
),
(
  '20000000-0000-4000-8000-000000000002',
  'Email summaries to Telegram',
  'Summarize each new email with AI and send the summary to a Telegram chat.',
  'ai', 'beginner', array['gmail', 'openai', 'telegram'],
  $json${
    "name": "Email summaries to Telegram",
    "description": "Summarize each new email with AI and send the summary to a Telegram chat.",
    "trigger_type": "email",
    "trigger_config": {"poll_interval_seconds": 60},
    "tags": ["email", "ai", "telegram"],
    "steps": [
      {"step_order": 1, "step_type": "trigger", "service_name": "gmail", "action_name": "new_email",
       "configuration": {"query": "in:inbox"}},
      {"step_order": 2, "step_type": "action", "service_name": "openai", "action_name": "summarize",
       "configuration": {"model": "gpt-4o-mini", "max_words": 80,
                         "text": "Subject: {{ trigger.subject }}\n\n{{ trigger.body_text }}"}},
      {"step_order": 3, "step_type": "action", "service_name": "telegram", "action_name": "send_message",
       "configuration": {"chat_id": "",
                         "text": "{{ trigger.subject }}\n\n{{ steps.summarize.text }}"},
       "error_handling": {"retry": true, "max_retries": 5}}
    ],
    "inputs": [
      {"key": "gmail_query", "label": "Which emails", "type": "string", "required": false,
       "description": "A Gmail search; leave \"in:inbox\" for every new email.",
       "targets": ["/steps/0/configuration/query"]},
      {"key": "telegram_chat_id", "label": "Telegram chat", "type": "string", "required": true,
       "description": "The chat the summaries go to.",
       "targets": ["/steps/2/configuration/chat_id"]}
    ]
  }$json$::jsonb,
  true
),
(
  '20000000-0000-4000-8000-000000000003',
  'Daily email briefing',
  'Every morning, AI writes a briefing of the last day''s unread email, saves it to Notion and sends it to Telegram.',
  'reporting', 'intermediate', array['gmail', 'openai', 'notion', 'telegram'],
  $json${
    "name": "Daily email briefing",
    "description": "Every morning, AI writes a briefing of the last day's unread email, saves it to Notion and sends it to Telegram.",
    "trigger_type": "scheduled",
    "trigger_config": {"schedule": "daily", "time": "08:00", "timezone": "UTC"},
    "tags": ["report", "email", "ai"],
    "steps": [
      {"step_order": 1, "step_type": "action", "service_name": "gmail", "action_name": "search_emails",
       "configuration": {"query": "is:unread newer_than:1d", "max_results": 25}},
      {"step_order": 2, "step_type": "action", "service_name": "openai", "action_name": "prompt",
       "configuration": {
         "model": "gpt-4o-mini",
         "system": "You write short, factual morning briefings. Group related emails, lead with what needs an answer today, and never invent details.",
         "prompt": "Write today's briefing from these {{ steps.search_emails.count }} unread emails:\n{% for email in steps.search_emails.messages %}- From {{ email.from }}: {{ email.subject }} ({{ email.snippet }})\n{% endfor %}",
         "temperature": 0.2,
         "max_tokens": 600
       }},
      {"step_order": 3, "step_type": "action", "service_name": "notion", "action_name": "create_page",
       "configuration": {"parent_database_id": "",
                         "title": "Briefing {{ (trigger.scheduled_for | default(now))[:10] }}",
                         "content": "{{ steps.prompt.text }}"}},
      {"step_order": 4, "step_type": "action", "service_name": "telegram", "action_name": "send_message",
       "configuration": {"chat_id": "", "text": "{{ steps.prompt.text }}"}}
    ],
    "inputs": [
      {"key": "briefing_time", "label": "Time of day", "type": "string", "required": false,
       "description": "When the briefing is written, as HH:MM.",
       "targets": ["/trigger_config/time"]},
      {"key": "timezone", "label": "Time zone", "type": "string", "required": false,
       "description": "An IANA time zone such as Europe/Paris.",
       "targets": ["/trigger_config/timezone"]},
      {"key": "notion_database_id", "label": "Notion database", "type": "string", "required": true,
       "description": "The database each briefing is saved in.",
       "targets": ["/steps/2/configuration/parent_database_id"]},
      {"key": "telegram_chat_id", "label": "Telegram chat", "type": "string", "required": true,
       "description": "The chat the briefing is sent to.",
       "targets": ["/steps/3/configuration/chat_id"]}
    ]
  }$json$::jsonb,
  true
),
(
  '20000000-0000-4000-8000-000000000004',
  'Webhook alerts to Telegram',
  'Any system that can call a URL (monitoring, CI, a form) sends an alert to a Telegram chat: post JSON or form fields title and message, or plain text.',
  'notifications', 'beginner', array['telegram'],
  $json${
    "name": "Webhook alerts to Telegram",
    "description": "Any system that can call a URL (monitoring, CI, a form) sends an alert to a Telegram chat: post JSON or form fields title and message, or plain text.",
    "trigger_type": "webhook",
    "trigger_config": {},
    "tags": ["webhook", "alerts", "telegram"],
    "steps": [
      {"step_order": 1, "step_type": "action", "service_name": "telegram", "action_name": "send_message",
       "configuration": {"chat_id": "",
                         "text": "Alert: {{ trigger.body.title | default('webhook received') }}\n{{ trigger.body.message | default(trigger.body.raw) | default('') | truncate(3500) }}"}}
    ],
    "inputs": [
      {"key": "telegram_chat_id", "label": "Telegram chat", "type": "string", "required": true,
       "description": "The chat alerts go to.",
       "targets": ["/steps/0/configuration/chat_id"]}
    ]
  }$json$::jsonb,
  false
),
(
  '20000000-0000-4000-8000-000000000005',
  'Flag urgent support emails',
  'AI reads each new support email and alerts you on Telegram only when it is urgent.',
  'support', 'intermediate', array['gmail', 'openai', 'telegram'],
  $json${
    "name": "Flag urgent support emails",
    "description": "AI reads each new support email and alerts you on Telegram only when it is urgent.",
    "trigger_type": "email",
    "trigger_config": {"poll_interval_seconds": 60},
    "tags": ["support", "ai", "telegram"],
    "steps": [
      {"step_order": 1, "step_type": "trigger", "service_name": "gmail", "action_name": "new_email",
       "configuration": {"query": "to:support"}},
      {"step_order": 2, "step_type": "action", "service_name": "openai", "action_name": "classify",
       "configuration": {
         "model": "gpt-4o-mini",
         "text": "Subject: {{ trigger.subject }}\n\n{{ trigger.body_text }}",
         "labels": ["urgent", "normal", "spam"],
         "instructions": "Urgent means a customer is blocked, data is at risk, or money is lost."
       }},
      {"step_order": 3, "step_type": "action", "service_name": "telegram", "action_name": "send_message",
       "configuration": {"chat_id": "",
                         "text": "Urgent support email from {{ trigger.from }}: {{ trigger.subject }}\n\n{{ trigger.snippet }}"},
       "conditions": {"all": [{"left": "{{ steps.classify.label }}", "op": "equals", "right": "urgent"}]}}
    ],
    "inputs": [
      {"key": "gmail_query", "label": "Support emails", "type": "string", "required": false,
       "description": "A Gmail search that finds your support email, such as \"to:support@example.com\".",
       "targets": ["/steps/0/configuration/query"]},
      {"key": "telegram_chat_id", "label": "Telegram chat", "type": "string", "required": true,
       "description": "The chat urgent emails are flagged in.",
       "targets": ["/steps/2/configuration/chat_id"]}
    ]
  }$json$::jsonb,
  false
),
(
  '20000000-0000-4000-8000-000000000006',
  'Extract notes into Notion',
  'Paste any text (meeting notes, a call transcript); AI extracts a title, a summary and action items into a Notion page.',
  'productivity', 'beginner', array['openai', 'notion'],
  $json${
    "name": "Extract notes into Notion",
    "description": "Paste any text (meeting notes, a call transcript); AI extracts a title, a summary and action items into a Notion page.",
    "trigger_type": "manual",
    "trigger_config": {},
    "tags": ["ai", "notion", "notes"],
    "steps": [
      {"step_order": 1, "step_type": "action", "service_name": "openai", "action_name": "extract",
       "configuration": {
         "model": "gpt-4o-mini",
         "text": "{{ trigger.text }}",
         "json_schema": {
           "type": "object",
           "properties": {
             "title": {"type": "string", "description": "A short title"},
             "summary": {"type": "string", "description": "Two or three sentences"},
             "action_items": {"type": "array", "items": {"type": "string"}}
           },
           "required": ["title", "summary", "action_items"]
         },
         "instructions": "Use only what the text says."
       }},
      {"step_order": 2, "step_type": "action", "service_name": "notion", "action_name": "create_page",
       "configuration": {
         "parent_database_id": "",
         "title": "{{ steps.extract.data.title }}",
         "content": "{{ steps.extract.data.summary }}\n\nAction items:\n{% for item in steps.extract.data.action_items %}- {{ item }}\n{% endfor %}"
       }}
    ],
    "inputs": [
      {"key": "notion_database_id", "label": "Notion database", "type": "string", "required": true,
       "description": "The database the notes are saved in.",
       "targets": ["/steps/1/configuration/parent_database_id"]}
    ]
  }$json$::jsonb,
  false
)
on conflict (id) do update set
  name = excluded.name,
  description = excluded.description,
  category = excluded.category,
  difficulty = excluded.difficulty,
  required_integrations = excluded.required_integrations,
  template_data = excluded.template_data,
  is_featured = excluded.is_featured;

-- ---------------------------------------------------------------------------------------------
-- system_status: one initial entry per monitored service; later checks append rows.
-- ---------------------------------------------------------------------------------------------
insert into public.system_status (id, service_name, status, metadata)
values
  ('30000000-0000-4000-8000-000000000001', 'database', 'healthy', '{"initial": true}'),
  ('30000000-0000-4000-8000-000000000002', 'queue', 'healthy', '{"initial": true}'),
  ('30000000-0000-4000-8000-000000000003', 'scheduler', 'healthy', '{"initial": true}'),
  ('30000000-0000-4000-8000-000000000004', 'workers', 'healthy', '{"initial": true}'),
  ('30000000-0000-4000-8000-000000000005', 'gmail', 'healthy', '{"initial": true}'),
  ('30000000-0000-4000-8000-000000000006', 'notion', 'healthy', '{"initial": true}'),
  ('30000000-0000-4000-8000-000000000007', 'telegram', 'healthy', '{"initial": true}'),
  ('30000000-0000-4000-8000-000000000008', 'openai', 'healthy', '{"initial": true}'),
  ('30000000-0000-4000-8000-000000000009', 'anthropic', 'healthy', '{"initial": true}'),
  ('30000000-0000-4000-8000-000000000010', 'gemini', 'healthy', '{"initial": true}'),
  ('30000000-0000-4000-8000-000000000011', 'openrouter', 'healthy', '{"initial": true}')
on conflict (id) do nothing;
