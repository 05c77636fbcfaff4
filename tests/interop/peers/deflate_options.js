// ws's perMessageDeflate options from the interop programs' --deflate PARAMS argument:
// "default", or comma-separated server_no_context_takeover, client_no_context_takeover,
// server_max_window_bits=N, client_max_window_bits[=N] (bare only for a client's offer).
'use strict';

function deflateOptions(params, role) {
  const o = { threshold: 0 };
  for (const item of params === 'default' ? [] : params.split(',')) {
    const [name, value] = item.split('=');
    if (name === 'server_no_context_takeover' && value === undefined) o.serverNoContextTakeover = true;
    else if (name === 'client_no_context_takeover' && value === undefined) o.clientNoContextTakeover = true;
    else if (name === 'server_max_window_bits' && value) o.serverMaxWindowBits = Number(value);
    else if (name === 'client_max_window_bits' && (value || role === 'client'))
      o.clientMaxWindowBits = value ? Number(value) : true;
    else throw new Error(`bad --deflate parameter ${item}`);
  }
  return o;
}

module.exports = { deflateOptions };
