// Anthropic Messages request -> OpenAI chat completions request, exactly as llama-server converts
// it (tools/server/server-chat.cpp, server_chat_convert_anthropic_to_oai, llama.cpp de3ff815ea7d),
// so that a prompt built from the converted body is the prompt llama-server's own /v1/messages
// would build. Keep it in step with that function; a field handled differently here changes
// what the model sees.

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (o: Json, key: string, fallback = ''): string => (typeof o[key] === 'string' ? o[key] as string : fallback);

const BILLING_PREFIX = 'x-anthropic-billing-header:';

/**
 * llama-server's own billing-header rewrite: the 5 characters after `cch=` become `fffff` when
 * a `;` follows them. Nothing else (cc_version's suffix still changes per request).
 */
export function llamaServerBillingRewrite(text: string): string {
  if (!text.startsWith(BILLING_PREFIX)) return text;
  const at = text.indexOf('cch=', BILLING_PREFIX.length);
  if (at < 0) return text;
  const from = at + 4;
  if (from + 5 < text.length && text[from + 5] === ';') return `${text.slice(0, from)}fffff${text.slice(from + 5)}`;
  return text;
}

/** Converts an Anthropic /v1/messages body into the OpenAI chat body llama-server derives from it. */
export function anthropicToOpenAI(body: Json): Json {
  const out: Json = {};
  const messages: Json[] = [];

  const system = body.system;
  if (system !== undefined && system !== null) {
    let content = '';
    if (typeof system === 'string') {
      content = llamaServerBillingRewrite(system);
    } else if (Array.isArray(system)) {
      for (const block of system) {
        if (isObject(block) && block.type === 'text') content += llamaServerBillingRewrite(str(block, 'text'));
      }
    }
    messages.push({ role: 'system', content });
  }

  if (!Array.isArray(body.messages)) throw new Error("'messages' is required");
  for (const msg of body.messages as Json[]) {
    const role = isObject(msg) ? str(msg, 'role') : '';
    if (!isObject(msg) || !('content' in msg)) {
      if (role !== 'assistant') messages.push(msg);
      continue;
    }
    if (!Array.isArray(msg.content)) {
      messages.push(msg);
      continue;
    }
    const toolCalls: Json[] = [];
    const content: Json[] = [];
    const toolResults: Json[] = [];
    let reasoning = '';
    for (const block of msg.content as unknown[]) {
      if (!isObject(block)) continue;
      switch (block.type) {
        case 'text': content.push(block); break;
        case 'thinking': reasoning += str(block, 'thinking'); break;
        case 'image': {
          const url = imageUrl(block.source);
          if (url !== null) content.push({ type: 'image_url', image_url: { url } });
          break;
        }
        case 'tool_use':
          toolCalls.push({
            id: str(block, 'id'), type: 'function',
            function: { name: str(block, 'name'), arguments: JSON.stringify(isObject(block.input) ? block.input : {}) },
          });
          break;
        case 'tool_result': toolResults.push(toolResult(block)); break;
      }
    }
    if (content.length > 0 || toolCalls.length > 0 || reasoning) {
      const converted: Json = { role };
      if (content.length > 0) converted.content = content;
      else converted.content = '';
      if (toolCalls.length > 0) converted.tool_calls = toolCalls;
      if (reasoning) converted.reasoning_content = reasoning;
      messages.push(converted);
    }
    messages.push(...toolResults);
  }
  out.messages = messages;

  if (Array.isArray(body.tools)) {
    out.tools = (body.tools as unknown[]).filter(isObject).map((tool) => ({
      type: 'function',
      function: { name: str(tool, 'name'), description: str(tool, 'description'), parameters: 'input_schema' in tool ? tool.input_schema : {} },
    }));
  }
  if (isObject(body.tool_choice)) {
    const type = str(body.tool_choice, 'type');
    if (type === 'auto') out.tool_choice = 'auto';
    else if (type === 'any' || type === 'tool') out.tool_choice = 'required';
  }
  if ('stop_sequences' in body) out.stop = body.stop_sequences;
  out.max_tokens = 'max_tokens' in body ? body.max_tokens : 4096;
  for (const key of ['temperature', 'top_p', 'top_k', 'stream', 'chat_template_kwargs']) {
    if (key in body) out[key] = body[key];
  }
  if (isObject(body.thinking) && body.thinking.type === 'enabled') {
    out.thinking_budget_tokens = typeof body.thinking.budget_tokens === 'number' ? body.thinking.budget_tokens : 10000;
  }
  if (isObject(body.metadata) && str(body.metadata, 'user_id')) out.__metadata_user_id = body.metadata.user_id;
  return out;
}

function imageUrl(source: unknown): string | null {
  if (!isObject(source)) return null;
  if (source.type === 'base64') return `data:${str(source, 'media_type', 'image/jpeg')};base64,${str(source, 'data')}`;
  if (source.type === 'url') return str(source, 'url');
  return null;
}

/** A tool_result block becomes a `tool` message; text-only content collapses to one string. */
function toolResult(block: Json): Json {
  const id = str(block, 'tool_use_id');
  const content = block.content;
  if (typeof content === 'string') return { role: 'tool', tool_call_id: id, content };
  if (!Array.isArray(content)) return { role: 'tool', tool_call_id: id, content: '' };
  let text = '';
  const parts: Json[] = [];
  let hasImages = false;
  for (const c of content) {
    if (!isObject(c)) continue;
    if (c.type === 'text') {
      text += str(c, 'text');
      parts.push({ type: 'text', text: str(c, 'text') });
    } else if (c.type === 'image') {
      hasImages = true;
      const url = imageUrl(c.source);
      if (url !== null) parts.push({ type: 'image_url', image_url: { url } });
    }
  }
  return { role: 'tool', tool_call_id: id, content: hasImages ? parts : text };
}
