-- SPDX-License-Identifier: MIT
-- 0001: zones, nodes, relays, paths.
-- Append-only: never edit a migration after it landed; add a new one.

CREATE TABLE zones (
  zone_id     integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name        text NOT NULL UNIQUE
              CHECK (name = lower(name) AND length(name) BETWEEN 1 AND 253),
  -- SOA serial of the zone; advanced whenever node data in it changes.
  serial      bigint NOT NULL DEFAULT 1,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE nodes (
  node_id       bytea PRIMARY KEY CHECK (octet_length(node_id) = 16),
  fqdn          text NOT NULL UNIQUE
                CHECK (fqdn = lower(fqdn) AND length(fqdn) BETWEEN 1 AND 253),
  zone_id       integer NOT NULL REFERENCES zones (zone_id),
  -- K_node: the node-DC key.  The DC's secret store; see docs/dc.md.
  node_key      bytea NOT NULL CHECK (octet_length(node_key) = 32),
  key_epoch     smallint NOT NULL DEFAULT 0 CHECK (key_epoch BETWEEN 0 AND 255),
  -- Allocated once at enrollment, kept across moves and restarts; UNIQUE
  -- makes handing one VIP to two nodes impossible, whoever allocates.
  vip           inet NOT NULL UNIQUE CHECK (family(vip) = 4 AND masklen(vip) = 32),
  -- The addresses the node reported (its "real" addresses), as text
  -- endpoints "addr:port" / "[v6]:port".
  local_endpoints text[] NOT NULL DEFAULT '{}',
  -- The source address and port the DC observed (the NAT address if any).
  observed_addr inet,
  observed_port integer CHECK (observed_port BETWEEN 0 AND 65535),
  behind_nat    boolean NOT NULL DEFAULT false,
  symmetric_nat boolean NOT NULL DEFAULT false,
  online        boolean NOT NULL DEFAULT false,
  last_seen     timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX nodes_zone_idx ON nodes (zone_id);

CREATE TABLE relays (
  relay_id      bytea PRIMARY KEY CHECK (octet_length(relay_id) = 16),
  name          text NOT NULL UNIQUE
                CHECK (name = lower(name) AND length(name) BETWEEN 1 AND 253),
  relay_key     bytea NOT NULL CHECK (octet_length(relay_key) = 32),
  key_epoch     smallint NOT NULL DEFAULT 0 CHECK (key_epoch BETWEEN 0 AND 255),
  local_endpoints text[] NOT NULL DEFAULT '{}',
  observed_addr inet,
  observed_port integer CHECK (observed_port BETWEEN 0 AND 65535),
  active_paths  integer NOT NULL DEFAULT 0 CHECK (active_paths >= 0),
  load_permille smallint NOT NULL DEFAULT 0 CHECK (load_permille BETWEEN 0 AND 1000),
  online        boolean NOT NULL DEFAULT false,
  last_seen     timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE paths (
  path_id        bytea PRIMARY KEY CHECK (octet_length(path_id) = 16),
  initiator      bytea NOT NULL REFERENCES nodes (node_id) ON DELETE CASCADE,
  -- NULL when the responder is a general (non-NTMobile) host.
  responder      bytea REFERENCES nodes (node_id) ON DELETE CASCADE,
  responder_fqdn text NOT NULL,
  general_addr   inet,
  route_type     smallint NOT NULL CHECK (route_type BETWEEN 1 AND 4),
  first_sender   smallint NOT NULL CHECK (first_sender BETWEEN 1 AND 3),
  relay_id       bytea REFERENCES relays (relay_id) ON DELETE SET NULL,
  relay_addr     inet,
  relay_port     integer CHECK (relay_port BETWEEN 0 AND 65535),
  key_epoch      smallint NOT NULL DEFAULT 0 CHECK (key_epoch BETWEEN 0 AND 255),
  -- 1 directing, 2 established, 3 closed
  state          smallint NOT NULL CHECK (state BETWEEN 1 AND 3),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  CHECK (responder IS NOT NULL OR general_addr IS NOT NULL)
);
CREATE INDEX paths_initiator_idx ON paths (initiator);
CREATE INDEX paths_responder_idx ON paths (responder);
CREATE INDEX paths_relay_idx ON paths (relay_id);
