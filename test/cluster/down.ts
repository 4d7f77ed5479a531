// npm run cluster:down — stops every process cluster:up started (and anything else still running from
// .cluster/), says what it stopped, and removes .cluster/.
import { down } from './controlplane.ts';

await down();
