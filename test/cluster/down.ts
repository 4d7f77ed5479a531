// npm run cluster:down — stops every process cluster:up started and removes .cluster/.
import { down } from './controlplane.ts';

await down();
