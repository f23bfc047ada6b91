// Word lists the text makers draw from. Plain, common words on purpose: the bench model's
// SentencePiece vocabulary should see the tokens real prompts produce (whole common words,
// identifiers split at case changes, punctuation), not random letters that fall back to bytes.

/** Nouns of a software team's prose (documents, tickets, support answers). */
export const NOUNS = [
  'request', 'server', 'client', 'cache', 'model', 'prompt', 'answer', 'user', 'team', 'report',
  'document', 'section', 'table', 'figure', 'budget', 'quarter', 'customer', 'contract', 'invoice', 'order',
  'release', 'version', 'feature', 'change', 'review', 'test', 'build', 'deploy', 'pipeline', 'queue',
  'worker', 'thread', 'process', 'memory', 'disk', 'network', 'latency', 'throughput', 'error', 'warning',
  'config', 'setting', 'option', 'policy', 'schedule', 'meeting', 'decision', 'plan', 'goal', 'risk',
  'service', 'endpoint', 'database', 'index', 'record', 'field', 'value', 'limit', 'timeout', 'retry',
  'account', 'payment', 'shipment', 'warehouse', 'product', 'price', 'discount', 'region', 'market', 'supplier',
  'engineer', 'manager', 'analyst', 'partner', 'vendor', 'office', 'project', 'milestone', 'deadline', 'estimate',
  'question', 'example', 'summary', 'draft', 'note', 'comment', 'issue', 'ticket', 'incident', 'outage',
];

/** Verbs in their base form; the sentence maker adds "s" for the third person. */
export const VERBS = [
  'add', 'remove', 'update', 'check', 'review', 'explain', 'describe', 'compare', 'measure', 'improve',
  'reduce', 'increase', 'handle', 'process', 'return', 'store', 'load', 'send', 'receive', 'read',
  'write', 'parse', 'render', 'schedule', 'cancel', 'retry', 'restore', 'save', 'replace', 'follow',
  'support', 'require', 'allow', 'prevent', 'include', 'contain', 'produce', 'report', 'track', 'move',
  'change', 'keep', 'need', 'start', 'stop', 'finish', 'open', 'close', 'share', 'approve',
];

/** Adjectives. */
export const ADJECTIVES = [
  'new', 'old', 'large', 'small', 'fast', 'slow', 'current', 'previous', 'next', 'final',
  'main', 'local', 'remote', 'shared', 'private', 'public', 'simple', 'complex', 'early', 'late',
  'first', 'last', 'open', 'closed', 'active', 'idle', 'empty', 'full', 'stable', 'broken',
  'important', 'common', 'different', 'similar', 'specific', 'general', 'annual', 'monthly', 'weekly', 'daily',
];

/** Adverbs and connectives that start or join clauses. */
export const CONNECTIVES = [
  'However', 'In addition', 'As a result', 'For example', 'In practice', 'Meanwhile', 'Therefore',
  'At the same time', 'Before that', 'After the release', 'In most cases', 'On the other hand',
];

/** Prepositions. */
export const PREPOSITIONS = ['in', 'on', 'for', 'with', 'from', 'to', 'after', 'before', 'during', 'without', 'about', 'under'];

/** Identifier parts for code: joined in camelCase or kebab-case. */
export const IDENT_PARTS = [
  'slot', 'cache', 'request', 'response', 'queue', 'session', 'prompt', 'token', 'model', 'server',
  'handler', 'config', 'options', 'state', 'result', 'value', 'index', 'count', 'limit', 'timeout',
  'buffer', 'stream', 'reader', 'writer', 'entry', 'item', 'list', 'map', 'key', 'path',
  'file', 'name', 'id', 'size', 'total', 'start', 'end', 'next', 'prev', 'error',
  'user', 'lease', 'pool', 'task', 'job', 'event', 'signal', 'metric', 'label', 'score',
];

/** Verbs for function names. */
export const CODE_VERBS = [
  'get', 'set', 'create', 'build', 'parse', 'read', 'write', 'load', 'save', 'find',
  'update', 'remove', 'handle', 'resolve', 'release', 'acquire', 'format', 'check', 'compute', 'send',
];

/** Top-level folders of a made-up repository. */
export const FOLDERS = ['src', 'src/server', 'src/cache', 'src/scheduler', 'lib', 'test', 'test/unit', 'scripts', 'docs', 'tools'];

/** Source file extensions. */
export const EXTENSIONS = ['ts', 'ts', 'ts', 'js', 'json', 'md', 'py', 'sh'];
