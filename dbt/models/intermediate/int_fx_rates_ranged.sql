-- Each rate's validity range: from valid_from until the next rate of the same currency.
select
    currency || ':' || cast(valid_from as varchar) as fx_rate_id,
    upper(currency) as currency_code,
    cast(rate_to_usd as numeric(18, 8)) as rate_to_usd,
    cast(valid_from as date) as valid_from,
    cast(lead(valid_from) over (partition by currency order by valid_from) as date) as valid_to
from {{ ref('fx_rates') }}
